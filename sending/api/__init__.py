"""The DirectMail-compatible RPC API: request signatures, actions, errors in DirectMail's wire format."""
