"""The web console: server-rendered pages over the same domain functions the API calls. The
emails' links land here (verification, reset, invitations, migration consents), and support
agents work the queues at ``/support``. Every flow works with JavaScript off."""
