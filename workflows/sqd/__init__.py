"""The active-space-sqd flow: its placed classical stages and `qcflow sqd` command."""
