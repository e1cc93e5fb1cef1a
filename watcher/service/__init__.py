"""Running the desk: taking waiting files from the drop folders, once (`process`) or watching (`serve`), the pipeline both share, month-end's schedule, status, health and the root lock."""
