"""Pulumi entry point: `pulumi preview -s dev` / `pulumi up -s prod` run this file."""

from program import main

main()
