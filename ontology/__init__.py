"""The twin vocabulary (Turtle + SHACL files in this folder) and the pure Python that
reads, validates and maps models written in it. No I/O beyond reading files."""
