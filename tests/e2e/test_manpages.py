"""man/latchkeyd.8 and man/latchkey.1 against the binaries: the page of
latchkeyd lists every setting `latchkeyd --help` prints (core/config.c's
table) with the same default, and nothing else; the page of latchkey
lists every command and option `latchkey --help` and each command's
--help print, and nothing else, as does `latchkey completion bash`; and
groff renders both pages without a warning. The pages are mdoc written by hand (docs/install.md says why),
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


GROUPS = ("client", "user", "token", "issuer", "resource", "consent",
          "session", "key", "audit")


def title(line):
    """"client add" of "client add NAME ...", "backup" of "backup FILE":
    a group and its command, or one word."""
    words = line.split()
    return " ".join(words[:2]) if words[0] in GROUPS else words[0]


def help_commands():
    """Command titles ("client add") from `latchkey --help`."""
    out = run(LATCHKEY, "--help")
    listed = out.split("commands:\n")[1].split("\n\n")[0]
    return [title(line) for line in listed.splitlines()]


def complete(*words):
    """What `latchkey completion bash` offers after words (the last one
    being completed)."""
    script = run(LATCHKEY, "completion", "bash")
    words = ("latchkey",) + words
    cmd = ('%s\nCOMP_WORDS=(%s); COMP_CWORD=%d; _latchkey; '
           'printf "%%s\\n" "${COMPREPLY[@]}"' %
           (script, " ".join("'%s'" % w for w in words), len(words) - 1))
    return run("bash", "-c", cmd).split()


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
        shown = [title(line) for line in
                 re.findall(r"^\.Ss (.*)$", section(text, "COMMANDS"), re.M)]
        self.assertEqual(shown, titles, "man/latchkey.1 and latchkey --help "
                         "list other commands (or another order)")
        self.assertEqual(set(man_flags(text)), help_options(titles),
                         "man/latchkey.1 and the commands' --help name "
                         "other options")

    def test_bash_completion_knows_every_command_and_option(self):
        """`latchkey completion bash` comes from the same table."""
        titles = help_commands()
        self.assertEqual(sorted(complete("")),
                         sorted({t.split()[0] for t in titles}))
        for group in GROUPS:
            self.assertEqual(sorted(complete(group, "")),
                             sorted(t.split()[1] for t in titles
                                    if t.split()[0] == group), group)
        for t in titles:
            out = run(LATCHKEY, *t.split(), "--help")
            want = set(re.findall(r"^  (--[a-z0-9-]+)", out, re.M))
            self.assertEqual(set(complete(*t.split(), "--")), want, t)
        self.assertEqual(complete("completion", ""), ["bash"])

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
