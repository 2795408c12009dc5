"""Passes (docs/passes.md): plans paid once for a fixed term or lifetime, bought with a
Standard Buy Now button (`web_accept` IPN) or the Orders v2 API (create, approve, capture,
`PAYMENT.CAPTURE.*` webhooks); buying again extends. The billing core computes a pass's
paid-through from its payments (`billing/rules/entitlements.pass_chain`)."""
