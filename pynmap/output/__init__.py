"""Report writers: normal (-oN), grepable (-oG), XML (-oX) and -oS output."""

from pynmap.output.stylesheet import WEBXML_HREF, stylesheet_href
from pynmap.output.writers import OutputSpec, Reporter, expand_log_filename

__all__ = ["WEBXML_HREF", "OutputSpec", "Reporter", "expand_log_filename", "stylesheet_href"]
