"""The rectification ledger (三单一账): findings, each with a rectification task, closed with evidence."""
