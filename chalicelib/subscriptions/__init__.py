"""Per-component subscriptions: people subscribe an e-mail address to the incidents of the
components they care about, from a plain HTML form on the status page (no JavaScript needed).

- `form` reads the POST body (e-mail and components) and refuses what is malformed;
- `service.Subscriptions` subscribes the address to the notify topic with a filter policy
  `{"audience": ["public"], "component": [...]}`; SNS's own confirmation e-mail is the double
  opt-in and its unsubscribe link the way out; an address may ask a few times a day at most;
- `announce.PublicNotices` publishes what the status page says of an incident (public words,
  never the operators' story) once per affected component, with `audience` and `component`
  message attributes, so only the subscriptions for that component receive it. Operators'
  subscriptions filter on `channel` and never receive these; subscribers never receive theirs.
- `route.register(app, ...)` adds `POST /subscribe` to a Chalice app.
"""
