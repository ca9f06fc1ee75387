"""upskilling-connector: brings course completions, credentials and progress from learning providers
(eCornell, itslearning, ...) into Summit (provider exports in; upskilling.* events out)."""
