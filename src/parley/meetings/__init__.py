"""AI-assisted video meetings: the use cases and domain, independent of HTTP and SQL.

domain.py        Meeting, Participant, ChatMessage, AssistantExchange; sizes bounded
service.py       MeetingService: create/get/list/end/delete, host actions, admission, records
ports.py         what the service needs: stores, the SFU's rooms, the participant registry
tokens.py        host tokens (signed JWT)
pins.py          PINs stored as scrypt hashes
pin_guard.py     PinGuard: wrong PINs counted per connection, address and meeting; lockouts
participants.py  LiveParticipants: the in-memory participant registry and its events
janus_rooms.py   JanusRooms: one VideoRoom room per live meeting, recreated after restarts
"""
