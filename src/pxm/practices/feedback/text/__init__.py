"""Text analytics of patient comments: sentiment, themes and PHI masking, computed locally (no download)."""
