"""Offline flows: what AWS decides for a request against the project's policy documents.

Standard library only, and no Pulumi import: a flow test evaluates the JSON documents the
program renders, never the program's objects (`flows.evaluator` says what is modelled).
"""
