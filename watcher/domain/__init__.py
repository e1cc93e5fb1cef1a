"""Pure domain rules: IDs, dates, money, rating, plans, policies. No I/O; `now` is always an argument."""
