"""ictmonctl against a real database: tokens (shown once, stored as SHA-256, listed,
revoked), agency tokens bound to an agency, agencies added by hand and imported from
Chile's institutions.csv with counts computed here from the file itself, and an OCDS
buyer first stored unmapped, then mapped to its agency with `agency alias`."""

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
import unittest

import harness

TOKEN_RE = re.compile(r"^ictm_[A-Za-z0-9_-]{43}$")
INSTITUTIONS = os.path.join(harness.SHARED_DIR, "data", "chile", "institutions.csv")


class Tokens(harness.DatabaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rc, out, err = harness.ctl("agency", "add", "TK01", "Token test agency", db=cls.db)
        if rc != 0:
            raise AssertionError("agency add failed: " + err)

    def create(self, *args):
        rc, out, err = self.ctl("token", "create", *args)
        self.assertEqual(rc, 0, err)
        # Only the token, on one line: T=$(ictmonctl token create ...) must work.
        self.assertRegex(out, r"^[^\n]*\n$")
        token = out.strip()
        self.assertRegex(token, TOKEN_RE)
        return token

    def row(self, token):
        digest = hashlib.sha256(token.encode()).hexdigest()
        rows = self.db.query("SELECT id, role, name, revoked_at FROM api_token "
                             "WHERE token_hash = :'h'", h=digest)
        self.assertEqual(len(rows), 1, "no api_token row holds the token's SHA-256")
        return rows[0]

    def test_create_stores_only_the_hash(self):
        token = self.create("--role", "analyst", "--name", "hash-test")
        token_id, role, name, revoked = self.row(token)
        self.assertEqual((role, name, revoked), ("analyst", "hash-test", None))
        # Nowhere in the table, in any column, is the token itself.
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM api_token t WHERE strpos(t::text, :'tok') > 0",
            tok=token), "0")

    def test_tokens_differ(self):
        self.assertNotEqual(self.create("--role", "admin"), self.create("--role", "admin"))

    def test_list_shows_it_without_secret(self):
        token = self.create("--role", "analyst", "--name", "listed-token")
        token_id = self.row(token)[0]
        rc, out, err = self.ctl("token", "list")
        self.assertEqual(rc, 0, err)
        line = [l for l in out.splitlines() if "listed-token" in l]
        self.assertEqual(len(line), 1, out)
        self.assertRegex(line[0], r"\b%s\b" % token_id)
        self.assertIn("analyst", line[0])
        self.assertNotIn(token, out)
        self.assertNotIn(hashlib.sha256(token.encode()).hexdigest(), out)

    def test_revoke_marks_it(self):
        token = self.create("--role", "analyst", "--name", "to-revoke")
        token_id = self.row(token)[0]
        rc, out, err = self.ctl("token", "revoke", token_id)
        self.assertEqual(rc, 0, err)
        self.assertIsNotNone(self.row(token)[3], "revoked_at not set")
        rc, out, err = self.ctl("token", "list")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        row = [l.split() for l in lines if "to-revoke" in l]
        self.assertEqual(len(row), 1, out)
        # A table whose "revoked" column shows when, "-" for a live token.
        header = lines[0].split()
        self.assertIn("revoked", header, out)
        self.assertEqual(len(row[0]), len(header), out)
        self.assertNotEqual(row[0][header.index("revoked")], "-", out)

    def test_revoke_unknown_id_fails(self):
        rc, out, err = self.ctl("token", "revoke", "999999999")
        self.assertNotEqual(rc, 0)

    def test_agency_token_requires_agency(self):
        before = self.db.scalar("SELECT count(*) FROM api_token")
        rc, out, err = self.ctl("token", "create", "--role", "agency")
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, "")
        self.assertIn("--agency", err)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM api_token"), before)

    def test_agency_token_binds_agency(self):
        token = self.create("--role", "agency", "--agency", "TK01")
        self.assertEqual(self.db.scalar(
            "SELECT a.code FROM api_token t JOIN agency a ON a.id = t.agency_id "
            "WHERE t.token_hash = :'h'", h=hashlib.sha256(token.encode()).hexdigest()),
            "TK01")

    def test_agency_token_for_unknown_agency_fails(self):
        rc, out, err = self.ctl("token", "create", "--role", "agency", "--agency", "NOPE99")
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, "")

    def test_bad_role_fails(self):
        rc, out, err = self.ctl("token", "create", "--role", "superuser")
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, "")


class Agencies(harness.DatabaseTestCase):

    def test_add_with_parent(self):
        rc, _, err = self.ctl("agency", "add", "T90", "Ministerio de Pruebas")
        self.assertEqual(rc, 0, err)
        rc, _, err = self.ctl("agency", "add", "T90-01", "Servicio de Pruebas",
                              "--parent", "T90")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.db.query(
            "SELECT a.name, p.code FROM agency a JOIN agency p ON p.id = a.parent_id "
            "WHERE a.code = 'T90-01'"), [("Servicio de Pruebas", "T90")])
        rc, out, err = self.ctl("agency", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("T90-01", out)
        self.assertIn("Servicio de Pruebas", out)

    def test_add_with_unknown_parent_fails(self):
        rc, _, _ = self.ctl("agency", "add", "T91-01", "Huérfano", "--parent", "T91")
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM agency WHERE code = 'T91-01'"),
                         "0")


class AgencyAlias(harness.DatabaseTestCase):
    """A buyer nobody mapped becomes an unmapped agency; `agency alias` maps it, moves
    its processes, tenders and awards to the agency and drops the empty stand-in."""

    RELEASE = {"uri": "https://example.org/p", "publishedDate": "2026-03-01T00:00:00Z",
               "version": "1.1", "releases": [{
                   "ocid": "ocds-t1-alias-1", "id": "r1", "date": "2026-03-01T00:00:00Z",
                   "tag": ["award"], "initiationType": "tender",
                   "buyer": {"id": "CL-MP-ALIAS", "name": "Unidad de compras"},
                   "tender": {"id": "t1", "procurementMethod": "open"},
                   "awards": [{"id": "a1", "status": "active",
                               "value": {"amount": "1000.50", "currency": "CLP"}}]}]}

    def buyer_of_award(self):
        return self.db.scalar("SELECT g.code FROM award w JOIN agency g "
                              "ON g.id = w.buyer_agency_id WHERE w.ocid = 'ocds-t1-alias-1'")

    def test_alias_moves_an_unmapped_buyer(self):
        self.assertEqual(self.ctl("agency", "add", "T80", "Ministerio Alias")[0], 0)
        self.assertEqual(self.ctl("agency", "add", "T81", "Otro Ministerio")[0], 0)
        path = os.path.join(self.db_tmp(), "release.json")
        with open(path, "w") as f:
            json.dump(self.RELEASE, f)
        rc, _, err = self.ctl("import", "procurement", path)
        self.assertEqual(rc, 0, err)
        unmapped = self.buyer_of_award()
        self.assertTrue(unmapped.startswith("u-CL-MP-ALIAS"), unmapped)

        rc, out, err = self.ctl("agency", "alias", "T80", "CL-MP-ALIAS")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "ocds-buyer CL-MP-ALIAS is now T80 (was %s): "
                         "1 processes, 1 tenders and 1 awards moved" % unmapped)
        self.assertEqual(self.buyer_of_award(), "T80")
        self.assertEqual(self.db.scalar("SELECT count(*) FROM agency WHERE code = :'c'",
                                        c=unmapped), "0")
        rc, out, _ = self.ctl("agency", "alias", "T80", "CL-MP-ALIAS")
        self.assertEqual((rc, out.strip()), (0, "ocds-buyer CL-MP-ALIAS is already T80"))

        # A correction moves it again; a release pushed later follows the alias.
        rc, out, err = self.ctl("agency", "alias", "T81", "CL-MP-ALIAS")
        self.assertEqual(rc, 0, err)
        self.assertIn("(was T80)", out)
        self.assertEqual(self.buyer_of_award(), "T81")

    def test_alias_refuses_bad_arguments(self):
        self.assertEqual(self.ctl("agency", "alias", "T99", "CL-MP-X")[0], 1)
        self.assertEqual(self.ctl("agency", "alias", "T80", " padded")[0], 2)
        self.assertEqual(self.ctl("agency", "alias", "T80", "X", "--scheme", "Bad!")[0], 2)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM agency_alias "
                                        "WHERE identifier IN ('CL-MP-X', 'X')"), "0")

    def db_tmp(self):
        d = tempfile.mkdtemp(prefix="ictmon-alias-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d


@unittest.skipUnless(os.path.exists(INSTITUTIONS), "no " + INSTITUTIONS)
class ImportChileInstitutions(harness.DatabaseTestCase):
    """Counted from the file: Programa 0 rows are institutions; Capítulo 0 among them are
    ministries (code PP), the others agencies (code PP-CC) under their ministry."""

    @classmethod
    def expected(cls):
        ministries, agencies = {}, {}
        with open(INSTITUTIONS, encoding="utf-8", newline="") as f:
            for partida, capitulo, programa, name in csv.reader(f, delimiter=";"):
                p, c, prog = int(partida), int(capitulo), int(programa)
                if prog != 0:
                    continue
                if c == 0:
                    ministries["%02d" % p] = name.strip()
                else:
                    agencies["%02d-%02d" % (p, c)] = ("%02d" % p, name.strip())
        return ministries, agencies

    def imported(self):
        rows = self.db.query("SELECT a.code, a.name, p.code FROM agency a "
                             "LEFT JOIN agency p ON p.id = a.parent_id")
        ministries = {code: name for code, name, parent in rows if parent is None}
        agencies = {code: (parent, name) for code, name, parent in rows if parent}
        return ministries, agencies

    def test_import_counts_and_parents(self):
        ministries, agencies = self.expected()
        self.assertEqual((len(ministries), len(agencies)), (29, 208))  # the file as shipped

        rc, out, err = self.ctl("agency", "import", INSTITUTIONS)
        self.assertEqual(rc, 0, err)
        got_ministries, got_agencies = self.imported()
        self.assertEqual(len(got_ministries), len(ministries))
        self.assertEqual(len(got_agencies), len(agencies))
        self.assertEqual(got_ministries, ministries)
        self.assertEqual(got_agencies, agencies)
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM agency WHERE kind = 'ministry'"), str(len(ministries)))

        # Importing again changes nothing.
        rc, out, err = self.ctl("agency", "import", INSTITUTIONS)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.imported(), (got_ministries, got_agencies))

    def test_import_missing_file_fails(self):
        rc, _, err = self.ctl("agency", "import", "/nonexistent/institutions.csv")
        self.assertNotEqual(rc, 0)
        self.assertTrue(err)


if __name__ == "__main__":
    unittest.main()
