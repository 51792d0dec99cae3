"""The app's building blocks; each is a plain QWidget fed by `SessionModel` data."""
