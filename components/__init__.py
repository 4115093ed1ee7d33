"""KFP components: one per stage; each reads its inputs, calls one synthos function, and
writes its outputs. No algorithm lives here."""
