"""man/latchkeyd.8 and man/latchkey.1 against the binaries: the page of
latchkeyd lists every setting `latchkeyd --help` prints (core/config.c's
table) with the same default, and nothing else; the page of latchkey
lists every command and option `latchkey --help` and each command's
--help print, and nothing else; and groff renders both without a
warning. The pages are mdoc written by hand (docs/install.md says why),
so this is what keeps them from drifting."""
import os
import re
import shutil
import subprocess
import unittest

from lk_harness import LATCHKEY, LATCHKEYD, SOURCE_DIR, skip_or_fail

MAN = os.path.join(SOURCE_DIR, "man")


def page(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          check=True).stdout


def section(text, name):
    """The lines of one .Sh section of an mdoc page."""
    m = re.search(r"^\.Sh %s\n(.*?)(?=^\.Sh |\Z)" % name, text, re.M | re.S)
    assert m, "no section " + name
    return m.group(1)


def man_flags(text):
    """{flag: the lines of its entry} of every .It Fl \\-flag."""
    out = {}
    for m in re.finditer(r"^\.It Fl \\-([a-z0-9-]+)(.*?)(?=^\.It |^\.El|\Z)",
                         text, re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def help_settings():
    """{flag: default} from `latchkeyd --help`."""
    out = run(LATCHKEYD, "--help")
    return dict(re.findall(r"^  --([a-z0-9-]+)\s.*\n\s+env \S+, default "
                           r"'([^']*)'", out, re.M))


def help_commands():
    """Command titles ("client add") from `latchkey --help`."""
    out = run(LATCHKEY, "--help")
    listed = out.split("commands:\n")[1].split("\n\n")[0]
    titles = []
    for line in listed.splitlines():
        words = line.split()
        # One word, or a group and its command: the words before the
        # synopsis (upper case, or an option).
        two = len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*", words[1])
        titles.append(" ".join(words[:2]) if two and words[0] in
                      ("client", "user", "token", "consent", "key")
                      else words[0])
    return titles


def help_options(titles):
    """Every option any command's --help prints (the global ones too)."""
    opts = set()
    for t in titles:
        out = run(LATCHKEY, *t.split(), "--help")
        opts |= set(re.findall(r"^  --([a-z0-9-]+)", out, re.M))
    return opts


class ManPagesTest(unittest.TestCase):
    def test_latchkeyd_lists_every_setting_with_its_default(self):
        text = section(page("latchkeyd.8"), "OPTIONS")
        man = man_flags(text)
        settings = help_settings()
        self.assertEqual(set(man) - {"help", "version"}, set(settings),
                         "man/latchkeyd.8 and latchkeyd --help differ: add "
                         "the setting to the page (or remove it)")
        self.assertIn("help", man)
        self.assertIn("version", man)
        for flag, default in settings.items():
            entry = man[flag]
            key = flag.replace("-", "_")
            if flag != "config":
                self.assertIn("\n.Cm %s ," % key, entry, flag)
            if default == "":
                self.assertRegex(entry, r"default (empty|none)\.", flag)
            else:
                shown = re.search(r"^\.Ql (\S+) \.$", entry, re.M)
                self.assertIsNotNone(shown, flag)
                self.assertEqual(shown.group(1).replace("\\-", "-"),
                                 default, flag)

    def test_latchkey_lists_every_command_and_option(self):
        text = page("latchkey.1")
        titles = help_commands()
        self.assertEqual(len(titles), len(set(titles)))
        shown = []
        for line in re.findall(r"^\.Ss (.*)$", section(text, "COMMANDS"),
                               re.M):
            words = line.split()
            two = len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*", words[1])
            shown.append(" ".join(words[:2]) if two else words[0])
        self.assertEqual(shown, titles, "man/latchkey.1 and latchkey --help "
                         "list other commands (or another order)")
        self.assertEqual(set(man_flags(text)), help_options(titles),
                         "man/latchkey.1 and the commands' --help name "
                         "other options")

    def test_groff_renders_them_without_a_warning(self):
        if shutil.which("groff") is None:
            skip_or_fail(self, "groff is not installed (groff-base)")
        for name in ("latchkeyd.8", "latchkey.1"):
            p = subprocess.run(["groff", "-mdoc", "-Tutf8", "-ww", "-z",
                                os.path.join(MAN, name)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((p.returncode, p.stderr), (0, ""), name)


if __name__ == "__main__":
    unittest.main()
