"""Worker middleware, one class per module; `actors.worker` puts them in order."""
