"""The climate-pathways flow: its tasks, report and `qcflow climate` command."""
