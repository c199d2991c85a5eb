"""One request to the contract, stage by stage: what it is, who asks, what they get.

``stages`` is the whole pipeline in one list; ``passage`` is what every request does on its way
in and out (the delay, CORS, the journal row and the access line); ``check`` judges every reply
with the one judge before it leaves; ``cors`` answers preflights.
"""
