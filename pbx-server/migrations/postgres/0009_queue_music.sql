-- What callers waiting in a queue hear (docs/decisions/010-call-center.md): `ringback` (a 180,
-- the seed's default "Tono di squillo"), `tone` (the PBX answers and plays the bundled
-- melody) or `wav:<path>` (the PBX answers and plays an 8 kHz mono 16-bit WAV file).
ALTER TABLE queue ADD COLUMN music TEXT NOT NULL DEFAULT 'ringback';
