"""The five steps of a case (DESIGN.md §2), one unit each: screen (全面查), verify (从严核), assist (精准帮),
evaluate (评估销) and close. `cases/workflow.py` runs them in order."""
