"""Running the desk: taking waiting files from the drop folders (process now; serve comes later)."""
