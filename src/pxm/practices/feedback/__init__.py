"""Patient feedback (H2): survey instruments, invitations, responses, metrics; text, complaints, reviews and
the closed loop live in their own subpackages."""
