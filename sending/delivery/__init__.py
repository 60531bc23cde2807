"""The delivery engine: build and sign each message, hand it to a transport, record what happened.

mime.py        the RFC 5322 message of one recipient (headers, text and HTML parts)
signing.py     DKIM signatures (dkimpy's canonicalization, RSA through OpenSSL)
transports.py  capture | relay | mx, behind one small interface
worker.py      claim due messages with a lease, deliver them grouped by domain, record results
"""
