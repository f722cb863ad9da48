"""Case-worker accounts and sign-in: the users table's store, the token endpoint, the login pages and
the account functions the admin CLI calls."""
