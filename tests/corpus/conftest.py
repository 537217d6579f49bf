"""tests/corpus/ holds public implementations copied verbatim and their declarations:
data for tests/test_corpus.py, not tests (nor doctests) of their own."""

collect_ignore_glob = ["*"]
