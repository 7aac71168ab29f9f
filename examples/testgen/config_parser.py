"""An INI-style configuration reader with typed getters."""
from typing import TextIO

TRUE_WORDS = {"yes", "true", "on", "1"}
FALSE_WORDS = {"no", "false", "off", "0"}


class ConfigError(Exception):
    pass


class Config:
    def __init__(self):
        self.sections = {"DEFAULT": {}}

    def load(self, stream: TextIO) -> int:
        """Read `[section]` headers and `key = value` lines; returns how many keys were read."""
        section = "DEFAULT"
        count = 0
        for number, raw in enumerate(stream, start=1):
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    raise ConfigError(f"line {number}: unclosed section header")
                section = line[1:-1].strip()
                self.sections.setdefault(section, {})
            elif "=" in line:
                key, value = line.split("=", 1)
                self.sections[section][key.strip().lower()] = value.strip()
                count += 1
            else:
                raise ConfigError(f"line {number}: expected key = value")
        return count

    def get(self, section: str, key: str, default: str = None) -> str:
        values = self.sections.get(section, {})
        if key in values:
            return values[key]
        return self.sections["DEFAULT"].get(key, default)

    def get_int(self, section: str, key: str, default: int = 0) -> int:
        value = self.get(section, key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{section}.{key} is not an integer: {value!r}") from None

    def get_bool(self, section: str, key: str) -> bool:
        value = self.get(section, key)
        # Planted bug: a missing key gives None, and None.lower() raises AttributeError.
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(f"{section}.{key} is not a boolean: {value!r}")

    def section_names(self) -> list[str]:
        return sorted(name for name in self.sections if name != "DEFAULT")


def parse_size(text: str) -> int:
    """Sizes like '10', '4k', '2M', '1G' in bytes."""
    text = text.strip().lower()
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)
