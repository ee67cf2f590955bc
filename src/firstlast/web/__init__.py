"""The faces of the loop (issue #10): the customer's chat widget and the agents' console.

``static/`` holds the browser code, shipped as package data and served by ``api/pages.py``; this
package holds what the server needs for them: console sign-in sessions and identity verification.
"""
