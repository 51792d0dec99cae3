"""The classroom: many stations of one room, watched by one instructor through the room's
broker (docs/classroom.md)."""
