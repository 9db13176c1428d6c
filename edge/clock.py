"""UTC as a time zone on every supported Python (`datetime.UTC` is new in 3.11; JetPack 6
ships 3.10)."""

from datetime import timezone

UTC = timezone.utc
