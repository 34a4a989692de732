"""Loopback facts for tests: a free port, whether IPv6 loopback works."""

from envoykit._net import free_port, ipv6_loopback

__all__ = ["free_port", "ipv6_loopback"]
