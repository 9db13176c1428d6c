"""Agency queries: the signed message, the policy checks and the responder (issue 7).

Why it exists: in 2025 CHP searched Oakland's plate reads for an "ICE case". Every query must
prove who asks (its broker and Ed25519 key), for whom (`on_behalf_of`) and why (purpose code,
case number, reason), and every answer or refusal is one audit row.
"""
