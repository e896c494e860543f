"""The workspace: a folder with a SQLite database of songs and their analyses, and the audio stored by content hash;
shared by `trackscope analyze --workspace`, `trackscope export` and `trackscope serve`."""
