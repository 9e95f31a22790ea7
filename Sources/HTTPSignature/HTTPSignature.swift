/// HTTP Signature authentication over OpenSSH keys.
