"""The demo's story: a generated but realistic ICT portfolio of 25 real Chilean agencies,
pushed over ictmond's HTTP API as the agencies would push it, with things planted for the
indicators to find. Used by scripts/demo and by the end-to-end tests; standard library
only.

    import story
    for buyer, agency in story.buyer_aliases():   # once per database, see below
        run("ictmonctl", "agency", "alias", agency, buyer)
    planted = story.push("http://127.0.0.1:8080", analyst_token)

What is pushed (fixed seed: two runs push the same bytes):
- projects (POST /v1/projects): every agency's ICT projects of 2025-2026, Spanish titles
  built from ChileCompra's UNSPSC names, costs in CLP as decimal strings, statuses,
  budget lines and the ocids of their purchases; then two more pushes that change some
  of them (new projected costs and dates, one rebaseline), so projects have versions;
- budget (POST /v1/budget): the 2026 budget law's ICT lines (29.06 Equipos informáticos,
  29.07 Programas informáticos) of these agencies, as the law's CSV, when
  ICTMON_SHARED/data/chile/budgetLaw.csv (default ../shared beside the repository) is
  there (else generated approved lines), and the monthly accrued execution to October;
- procurement (POST /v1/procurement): one OCDS release package in ChileCompra's style
  (ocds-70d2nz- ocids, CL-MP- buyers, CL-RUT suppliers, UNSPSC items): framework
  agreement orders (Convenio Marco), public tenders and direct awards.

Planted:
- a duplicate cluster: three superintendencies each building their own document
  management platform (DUP-PROJECT);
- a spending overlap: four agencies buying security software licences (UNSPSC class
  432332) within four months, each on its own (OVL-SPEND);
- a split purchase: a regional government giving one supplier three direct awards for
  hardware support, each under the 30,000,000 CLP tender threshold, together over it,
  within 70 days (SPLIT, by supplier and by class);
- a project over budget and late, pushed three times as its estimate drifted (CV, SV);
- an agency whose ICT execution passes its budget (BUDGET-EXEC).
Background purchases are laid out so that they form none of these by accident: with
the default indicator parameters, seed 7 and scale 1.0, the indicators find exactly the
planted duplicate cluster, overlap and split (other seeds and larger scales reuse
products and may add duplicates of their own).

Push once per database: the projects' later pushes change earlier ones, so pushing the
story again onto itself adds versions (scripts/demo starts from a fresh database).

OCDS buyers map to agencies through `ictmonctl agency alias AGENCY BUYER` (an admin's
task, as in production): buyer_aliases() lists the story's pairs (`story.py --aliases`
prints them). Without them the buyers become unmapped agencies and the overlaps name
those; mapped afterwards, the stored purchases move to the agencies.
"""

import datetime
import json
import os
import random
import urllib.error
import urllib.request

OCID_PREFIX = "ocds-70d2nz-"
FISCAL_YEAR = 2026
THRESHOLD = 30000000  # indicators.split.threshold, CLP
LAW_PATH = ("data", "chile", "budgetLaw.csv")

# Real agencies of Chile's budget law (institutions.csv), all with ICT lines in the law.
AGENCIES = (
    ("05-10", "Subsecretaría del Interior"),
    ("05-31", "Carabineros de Chile"),
    ("05-33", "Policía de Investigaciones de Chile"),
    ("05-62", "Gobierno Regional Región II Antofagasta"),
    ("05-73", "Gobierno Regional Región Metropolitana de Santiago"),
    ("07-02", "Servicio Nacional del Consumidor"),
    ("07-07", "Instituto Nacional de Estadísticas"),
    ("08-03", "Servicio de Impuestos Internos"),
    ("08-04", "Servicio Nacional de Aduanas"),
    ("08-05", "Servicio de Tesorerías"),
    ("08-07", "Dirección de Compras y Contratación Pública"),
    ("09-01", "Subsecretaría de Educación"),
    ("09-02", "Superintendencia de Educación"),
    ("09-03", "Agencia de Calidad de la Educación"),
    ("10-02", "Servicio de Registro Civil e Identificación"),
    ("13-01", "Subsecretaría de Agricultura"),
    ("14-01", "Subsecretaría de Bienes Nacionales"),
    ("15-02", "Dirección del Trabajo"),
    ("15-05", "Servicio Nacional de Capacitación y Empleo"),
    ("15-06", "Superintendencia de Seguridad Social"),
    ("15-07", "Superintendencia de Pensiones"),
    ("15-09", "Instituto de Previsión Social"),
    ("16-02", "Fondo Nacional De Salud"),
    ("16-04", "Instituto de Salud Pública de Chile"),
    ("16-10", "Subsecretaría de Redes Asistenciales"),
)
NAMES = dict(AGENCIES)

DUP_AGENCIES = ("09-02", "15-06", "15-07")
OVL_AGENCIES = ("08-04", "10-02", "15-09", "16-02")
OVL_CLASS = "432332"
SPLIT_AGENCY = "05-62"
LATE_AGENCY = "08-05"
REBASELINE_AGENCY = "16-02"
OVERRUN_AGENCY = "05-33"

# UNSPSC products of ChileCompra's taxonomy (unspsc-rubros-chilecompra.csv), by class,
# with the project category, capability and budget line their purchases go to.
PRODUCTS = {
    "432115": ("infrastructure", "cloud_hosting", "29.06", (
        ("43211501", "Servidores"), ("43211507", "Computadores de escritorio"),
        ("43211503", "Notebook, laptop o computador portátil excepto Tablet PC"),
        ("43211506", "Ordenadores cliente ligero"), ("43211502", "Servidores de gama alta"),
        ("43211509", "Computadores portátiles tipo Tablet PC"),
        ("43211508", "Computadores personales"),
        ("43211505", "Terminal de punto de venta (POS)"))),
    "432121": ("infrastructure", "help_desk", "29.06", (
        ("43212110", "Impresoras multifunción o multifuncionales"),
        ("43212105", "Impresoras de láser"), ("43212107", "Trazadoras de gráficos"),
        ("43212104", "Impresoras de chorro de tinta"),
        ("43212108", "Impresoras de cinta térmica"))),
    "432225": ("security", "cybersecurity", "29.06", (
        ("43222501", "Equipo de seguridad de red de firewall"),
        ("43222502", "Equipo de seguridad de red virtual (VPN)"),
        ("43222503", "Equipo de seguridad de evaluación de vulnerabilidad"))),
    "432228": ("telecommunications", "telephony", "29.06", (
        ("43222805", "Equipo de central privada conectada a la red pública (PBX)"),
        ("43222815", "Terminales de telecomunicaciones"),
        ("43222802", "Equipo de cuadro de conmutación de circuitos"),
        ("43222811", "Unidades de alarma de equipo de telefonía"))),
    "432315": ("applications", "case_management", "29.07", (
        ("43231501", "Software de centro de llamadas o soporte técnico "
                     "(call centers o contact center)"),
        ("43231505", "Software de gestión de recursos humanos"),
        ("43231507", "Programas de gestión de proyectos"),
        ("43231503", "Software de gestión de adquisiciones"),
        ("43231508", "Programas de gestión de inventario"),
        ("43231509", "Software de codificación por barras"),
        ("43231511", "Software de sistema experto"))),
    "432316": ("applications", "erp", "29.07", (
        ("43231602", "Software de planificación de recursos empresariales (ERP)"),
        ("43231601", "Programas de contabilidad"),
        ("43231603", "Software de trámites fiscales"),
        ("43231604", "Programas de análisis financiero"),
        ("43231605", "Software de contabilidad temporal"))),
    "432322": ("applications", "document_management", "29.07", (
        ("43232202", "Programas de gestión de documentos"),
        ("43232201", "Software de flujo de trabajo de contenidos"),
        ("43232203", "Software de versión de archivo"))),
    "432323": ("data", "data_platform", "29.07", (
        ("43232304", "Software del sistema de administración de bases de datos"),
        ("43232303", "Software de gestión de relaciones con el cliente (CRM)"),
        ("43232305", "Software de creación de informes de bases de datos"),
        ("43232307", "Software de extracción de datos"),
        ("43232310", "Software de administración de metadatos"),
        ("43232306", "Software de consultas e interfaz de usuario de bases de datos"),
        ("43232309", "Software de búsqueda o recuperación de información"),
        ("43232301", "Software de clasificación o categorización"))),
    "432327": ("applications", "interoperability", "29.07", (
        ("43232701", "Software de servidor de aplicaciones"),
        ("43232704", "Software de servicios de directorio de Internet"),
        ("43232703", "Programas interactivos de respuesta de voz"),
        ("43232705", "Software de explorador de Internet"),
        ("43232702", "Software de comunicaciones para consola"))),
    "432330": ("infrastructure", "cloud_hosting", "29.07", (
        ("43233004", "Software de sistema operativo"),
        ("43233001", "Software de sistema de archivos"),
        ("43233002", "Software de sistema operativo de redes"))),
    "432332": ("security", "cybersecurity", "29.07", (
        ("43233205", "Software de protección antivirus y de seguridad de transacciones"),
        ("43233201", "Software de servidor de autenticación"),
        ("43233203", "Software de administración de red privada virtual (VPN) o de "
                     "seguridad de red"))),
    "432335": ("digital_services", "videoconference", "29.07", (
        ("43233502", "Software de video conferencia"),
        ("43233501", "Software de correo electrónico"),
        ("43233504", "Software de mensajería instantánea"),
        ("43233506", "Software de creación de mapas"),
        ("43233503", "Software de conferencias en red"),
        ("43233509", "Software de servicio de mensajería por móvil"))),
    "811117": ("applications", "case_management", "22.11.003", (
        ("81111705", "Arquitectura de sistemas"), ("81111704", "Diseño de base de datos"),
        ("81111702", "Diseño de redes de comunicación de cobertura local (LAN)"),
        ("81111703", "Diseño de intercambio de datos electrónicos (EDI)"),
        ("81111701", "Diseño de redes de comunicación de cobertura amplia (WAN)"))),
    "811118": ("infrastructure", "help_desk", "22.11.003", (
        ("81111812", "Mantenimiento y soporte de hardware"),
        ("81111811", "Soporte técnico y servicios de mesa de ayuda"),
        ("81111803", "Soporte y mantenimiento de red de área local (LAN)"),
        ("81111804", "Soporte y mantenimiento de red de cobertura amplia (WAN)"),
        ("81111801", "Seguridad para computadores, redes e Internet"),
        ("81111805", "Mantenimiento y soporte de sistemas propietarios"),
        ("81111806", "Análisis de base de datos"), ("81111808", "Análisis de sistemas"),
        ("81111809", "Instalación de sistemas"))),
    "811120": ("data", "data_platform", "22.11.003", (
        ("81112005", "Servicios de digitalización de documentos"),
        ("81112003", "Centro de servicios de datos"),
        ("81112006", "Servicios de almacenamiento de datos"),
        ("81112007", "Servicios de normalización de datos"),
        ("81112001", "Proceso de datos online"),
        ("81112004", "Servicios de recuperación de datos"),
        ("81112009", "Servicios de clasificación de datos y contenidos"))),
    "811121": ("digital_services", "web", "22.11.003", (
        ("81112103", "Servicios de diseño de sitio Web"), ("81112105", "Web Hosting"),
        ("81112106", "Proveedores de aplicaciones"),
        ("81112107", "Administradores de dominios"),
        ("81112102", "Proveedores de servicio de correo electrónico"))),
    "811122": ("applications", "erp", "22.11.003", (
        ("81112201", "Tarificaciones de soporte y mantenimiento"),
        ("81112202", "Up grade de software"))),
}
PRODUCT_NAME = {pid: name for c in PRODUCTS.values() for pid, name in c[3]}

VERBS = ("Adquisición de", "Renovación de", "Implementación de", "Contratación de",
         "Actualización de", "Migración de")
PURPOSES = (
    "mejorar la atención ciudadana en oficinas y canales remotos",
    "asegurar la continuidad operacional de los sistemas críticos",
    "interoperar con otros servicios del Estado mediante la red PISEE",
    "cumplir la Ley Marco de Ciberseguridad",
    "digitalizar trámites según la Ley de Transformación Digital",
    "apoyar el análisis de datos para la toma de decisiones",
    "facilitar el teletrabajo de los funcionarios",
    "fortalecer la fiscalización en terreno",
    "modernizar la gestión interna",
    "publicar datos abiertos y cumplir la transparencia activa",
    "reducir los tiempos de respuesta a los usuarios",
    "disminuir los costos de operación y licenciamiento")
REASONS = (
    "El equipamiento actual cumplió su vida útil",
    "El contrato vigente vence este año",
    "La Contraloría observó brechas en la auditoría anterior",
    "La demanda de usuarios creció tras la pandemia",
    "El proveedor anterior discontinuó el soporte",
    "Una evaluación de riesgos recomendó reemplazarlo",
    "El plan estratégico institucional lo prioriza",
    "La nueva ley exige plazos de respuesta más cortos",
    "El sistema heredado no admite actualizaciones de seguridad",
    "Las oficinas regionales carecen de esta capacidad")
SCOPES = (
    "el contrato incluye instalación, configuración y garantía",
    "se contratará como servicio con pago mensual",
    "contempla capacitar a los equipos de soporte",
    "se comprará por licitación pública en Mercado Público",
    "considera migrar la información histórica",
    "suma una mesa de ayuda en horario extendido",
    "se ejecutará en etapas, partiendo por un piloto",
    "exige acuerdos de nivel de servicio estrictos",
    "reutiliza la infraestructura existente",
    "deja capacidades instaladas en el equipo interno")
PLACES = ("el nivel central", "las direcciones regionales", "las oficinas de atención",
          "el centro de datos institucional", "la sede de Santiago",
          "las regiones del norte", "las regiones del sur", "todas las sucursales",
          "el área de fiscalización", "el departamento de informática")
SUPPLIER_NAMES = (
    "Soluciones Tecnológicas Andes SpA", "Sistemas Integrales del Pacífico Ltda.",
    "Servicios Informáticos Altiplano SpA", "Datacentro Austral S.A.",
    "Redes y Comunicaciones Cordillera Ltda.", "Consultora Digital Valparaíso SpA",
    "Tecnología Aplicada Biobío S.A.", "Ingeniería de Software Atacama Ltda.",
    "Infraestructura TI Magallanes SpA", "Ciberdefensa Chile SpA",
    "Computación y Servicios del Maule Ltda.", "Nube Pública Latam SpA",
    "Gestión Documental Araucanía S.A.", "Integradores de Sistemas Limarí SpA",
    "Desarrollo Web Los Lagos Ltda.", "Equipamiento Computacional Elqui S.A.",
    "Seguridad Informática Aconcagua SpA", "Analítica de Datos Huasco Ltda.",
    "Telecomunicaciones Itata S.A.", "Mesa de Ayuda Tarapacá SpA")


class PushError(Exception):
    """A push the daemon refused, or could not be reached for."""


def _rut(number):
    """A Chilean RUT with its check digit (module 11), as ChileCompra writes it."""
    total, factor = 0, 2
    for digit in reversed(str(number)):
        total += int(digit) * factor
        factor = 2 if factor == 7 else factor + 1
    check = 11 - total % 11
    return "%d-%s" % (number, {10: "K", 11: "0"}.get(check, str(check)))


def _buyer_unit(code):
    """The agency's purchasing unit number in Mercado Público: stable per agency."""
    partida, capitulo = code.split("-")
    return 1000 + int(partida) * 97 + int(capitulo) * 13


def buyer_id(code):
    return "CL-MP-%d" % _buyer_unit(code)


def buyer_aliases():
    """[(OCDS buyer id, agency code)] of the story's buyers."""
    return [(buyer_id(code), code) for code, _ in AGENCIES]


def _day(d):
    return d.isoformat()


def _money(n):
    return str(int(n))


class _Story:

    def __init__(self, seed, scale):
        self.rng = random.Random(seed)
        self.scale = scale
        self.suppliers = [(("CL-RUT-" + _rut(76000000 + 104729 * i % 900000)), name)
                          for i, name in enumerate(SUPPLIER_NAMES, 1)]
        self.projects = []       # the first push, records as dicts
        self.waves = [[], []]    # the second and third pushes (changed records)
        self.releases = []
        self.seq = {}
        self.planted = {"agencies": [code for code, _ in AGENCIES]}
        # The agencies' usual classes. Outside framework agreements a class is bought
        # by two agencies at most (self.buyers), so that no three buyers meet in a
        # class by accident (OVL-SPEND); the planted overlap's class is kept for it.
        classes = sorted(c for c in PRODUCTS if c != OVL_CLASS)
        self.own_classes = {}
        for i, (code, _) in enumerate(AGENCIES):
            self.own_classes[code] = [classes[i % len(classes)],
                                      classes[(7 * i + 3) % len(classes)]]
        self.buyers = {OVL_CLASS: set(OVL_AGENCIES), "811118": {SPLIT_AGENCY}}
        self.used_products = set()

    # Procurement -----------------------------------------------------------------

    def ocid(self, code, kind, day):
        unit = _buyer_unit(code)
        self.seq[unit] = self.seq.get(unit, 0) + 1
        return "%s%d-%d-%s%02d" % (OCID_PREFIX, unit, 100 + 7 * self.seq[unit], kind,
                                   day.year % 100)

    def release(self, code, day, pid, amount, supplier, method, title, quantity=1):
        """One award release in ChileCompra's style; returns its ocid."""
        if method == "framework":
            kind, pmethod, details = "CM", "open", "Convenio Marco"
        elif method == "direct":
            kind, pmethod, details = "SE", "direct", "Trato Directo"
        else:
            utm = amount / 68000
            kind = ("L1" if utm < 100 else "LE" if utm < 1000 else "LP" if utm < 2000
                    else "LQ" if utm < 5000 else "LR")
            pmethod, details = "open", "Licitación Pública %s" % kind
        ocid = self.ocid(code, kind, day)
        code_mp = ocid[len(OCID_PREFIX):]
        name = PRODUCT_NAME[pid]
        cls = pid[:6]
        category = "services" if pid.startswith("8111") else "goods"
        item = {"id": "1", "description": name, "quantity": quantity,
                "classification": {"scheme": "UNSPSC", "id": pid, "description": name},
                "unit": {"name": "Unidad" if category == "goods" else "Servicio"}}
        buyer = {"id": buyer_id(code), "name": NAMES[code]}
        stamp = "%sT%02d:%02d:00Z" % (_day(day), 9 + int(cls) % 8, int(pid) % 60)
        tender_start = day - datetime.timedelta(days=40 if pmethod == "open" else 5)
        self.releases.append({
            "ocid": ocid,
            "id": "%s-award-%s" % (code_mp, _day(day)),
            "date": stamp,
            "tag": ["award"],
            "initiationType": "tender",
            "language": "es",
            "buyer": buyer,
            "parties": [
                dict(buyer, roles=["buyer", "procuringEntity"],
                     identifier={"scheme": "CL-MP", "id": str(_buyer_unit(code)),
                                 "legalName": NAMES[code]},
                     address={"countryName": "Chile"}),
                {"id": supplier[0], "name": supplier[1], "roles": ["supplier"],
                 "identifier": {"scheme": "CL-RUT", "id": supplier[0][len("CL-RUT-"):],
                                "legalName": supplier[1]}}],
            "tender": {
                "id": code_mp, "title": title, "status": "complete",
                "procurementMethod": pmethod, "procurementMethodDetails": details,
                "mainProcurementCategory": category,
                "tenderPeriod": {"startDate": "%sT09:00:00Z" % _day(tender_start),
                                 "endDate": "%sT15:00:00Z" % _day(
                                     tender_start + datetime.timedelta(days=20))},
                "value": {"amount": amount, "currency": "CLP"},
                "items": [item]},
            "awards": [{
                "id": "%s-1" % code_mp, "title": title, "date": stamp, "status": "active",
                "value": {"amount": amount, "currency": "CLP"},
                "suppliers": [{"id": supplier[0], "name": supplier[1]}],
                "items": [item]}],
        })
        return ocid

    def may_buy(self, code, cls, probe=False):
        """Whether `code` may buy in class `cls` outside a framework agreement; if so
        (and not a probe), counts it among the class's buyers."""
        buyers = self.buyers.setdefault(cls, set())
        if code not in buyers and len(buyers) >= 2:
            return False
        if not probe:
            buyers.add(code)
        return True

    def unused(self, cls):
        return [p for p, _ in PRODUCTS[cls][3] if p not in self.used_products]

    def product(self, cls):
        choices = [p for p, _ in PRODUCTS[cls][3] if p not in self.used_products]
        pid = self.rng.choice(choices or [p for p, _ in PRODUCTS[cls][3]])
        self.used_products.add(pid)
        return pid

    # Projects --------------------------------------------------------------------

    def project(self, code, number, title, description, cls, status, start, end,
                planned, **extra):
        category, capability, line, _ = PRODUCTS[cls]
        rng = self.rng
        p = {"agency": code, "id": "PTI-%d-%03d" % (start.year, number),
             "title": title, "description": description, "category": category,
             "capabilities": [capability], "status": status,
             "planned_start": _day(start), "planned_end": _day(end),
             "planned_cost": _money(planned), "currency": "CLP",
             "review_status": rng.choice(("approved",) * 8 + ("submitted", "observed")),
             "cio_rating": rng.randint(2, 5),
             "budget_lines": [line],
             "funding_source": rng.choice(("agency_budget", "agency_budget",
                                           "agency_budget", "central_fund", "loan")),
             "ocids": []}
        if status in ("in_progress", "completed"):
            p["actual_start"] = _day(start + datetime.timedelta(days=rng.randint(0, 30)))
            p["projected_cost"] = _money(planned * rng.randint(95, 112) // 100 // 100000
                                         * 100000)
            p["projected_end"] = _day(end + datetime.timedelta(
                days=rng.choice((0, 0, 0, 15, 30, 45))))
        if status == "completed":
            p["actual_end"] = p["projected_end"]
            p["actual_cost"] = p["projected_cost"]
        p.update(extra)
        self.projects.append(p)
        return p

    def background(self):
        rng = self.rng
        for n, (code, name) in enumerate(AGENCIES):
            count = max(1, round(rng.randint(2, 5) * self.scale))
            for k in range(count):
                # Each project its own product where the taxonomy allows: two
                # agencies' projects named alike would be duplicates.
                cls = self.own_classes[code][k % 2]
                if not self.unused(cls):
                    cls = next((c for c in self.own_classes[code] if self.unused(c)),
                               None) or next((c for c in sorted(PRODUCTS) if c != OVL_CLASS
                                              and self.unused(c)), cls)
                pid = self.product(cls)
                verb = rng.choice(VERBS)
                product = PRODUCT_NAME[pid]
                title = "%s %s para %s" % (verb, product[0].lower() + product[1:],
                                           rng.choice(PLACES))
                # Dealt rather than drawn, so that two projects rarely share two of
                # the three phrases (texts alike enough would be duplicates).
                j = len(self.projects)
                a, b = divmod(j, len(REASONS))
                description = "%s. %s busca %s; %s." % (
                    REASONS[b], name, PURPOSES[(6 * b + a) % len(PURPOSES)],
                    SCOPES[(b + a) % len(SCOPES)])
                start = datetime.date(2025, 1, 6) + datetime.timedelta(
                    days=rng.randrange(600))
                end = start + datetime.timedelta(days=rng.randrange(120, 540))
                status = ("completed" if end < datetime.date(2026, 6, 1) else
                          rng.choice(("planned", "in_progress", "in_progress"))
                          if start < datetime.date(2026, 3, 1) else "planned")
                if status == "planned" and start < datetime.date(2025, 10, 1):
                    status = "in_progress"
                planned = int(10 ** rng.uniform(7.6, 9.3)) // 1000000 * 1000000
                p = self.project(code, 100 + k, title, description, cls, status,
                                 start, end, planned)
                # Its purchases: one in the open on a class the agency shares with one
                # other at most, or a Convenio Marco order.
                if status != "planned":
                    day = start + datetime.timedelta(days=rng.randint(10, 60))
                    framework = rng.random() < 0.5 or not self.may_buy(code, cls)
                    amount = planned * rng.randint(60, 95) // 100 // 1000 * 1000
                    if not framework and amount < THRESHOLD:
                        amount = THRESHOLD + rng.randrange(1000000, 40000000, 1000)
                    p["ocids"].append(self.release(
                        code, day, pid, amount, rng.choice(self.suppliers),
                        "framework" if framework else "open", title))
                # Versions: some estimates move in the second or third push.
                if status == "in_progress" and rng.random() < 0.45:
                    v2 = dict(p)
                    v2["projected_cost"] = _money(int(p["projected_cost"])
                                                  * rng.randint(100, 118) // 100)
                    v2["projected_end"] = _day(datetime.date.fromisoformat(
                        p["projected_end"]) + datetime.timedelta(days=rng.choice(
                            (0, 30, 60))))
                    self.waves[0].append(v2)
            # Convenio Marco orders of everyday equipment, any class: excluded from
            # the overlaps as framework purchases.
            for _ in range(max(1, round(rng.randint(2, 4) * self.scale))):
                cls = rng.choice(("432115", "432121", "432330", "432332", "811118"))
                pid = rng.choice(PRODUCTS[cls][3])[0]
                day = datetime.date(2025, 2, 1) + datetime.timedelta(days=rng.randrange(640))
                amount = rng.randrange(1500000, 19500000, 1000)
                self.release(code, day, pid, amount, rng.choice(self.suppliers),
                             "framework", "Orden de compra Convenio Marco: "
                             + PRODUCT_NAME[pid], quantity=rng.randint(1, 60))
            # At most one small direct award per agency (none for the split's buyer),
            # so that no split appears by accident.
            direct = [c for c in ("811122", "811121", "811120", "811117")
                      if c not in self.own_classes[code]]
            rng.shuffle(direct)
            if code != SPLIT_AGENCY and rng.random() < 0.5:
                direct = [c for c in direct if self.may_buy(code, c, probe=True)][:1]
            else:
                direct = []
            if direct:
                self.may_buy(code, direct[0])
                pid = self.product(direct[0])
                day = datetime.date(2025, 3, 1) + datetime.timedelta(days=rng.randrange(600))
                self.release(code, day, pid, rng.randrange(2000000, 25000000, 1000),
                             rng.choice(self.suppliers), "direct",
                             "Trato directo: " + PRODUCT_NAME[pid])

    def cover_budget(self):
        """The budget lines of an agency are linked to its largest approved project
        when no approved project names them: agencies plan their ICT budget."""
        for code, _ in AGENCIES:
            approved = [p for p in self.projects
                        if p["agency"] == code and p["review_status"] == "approved"]
            if not approved:
                continue
            covered = {line for p in approved for line in p["budget_lines"]}
            largest = max(approved, key=lambda p: int(p["planned_cost"]))
            largest["budget_lines"] += [line for line in ("29.06", "29.07")
                                        if line not in covered]

    # Planted ---------------------------------------------------------------------

    def duplicates(self):
        """Three superintendencies, each its own document management platform."""
        texts = (
            ("Plataforma de gestión documental y expediente electrónico",
             "Implementación de una plataforma de gestión documental y expediente "
             "electrónico para la tramitación de denuncias, reclamos y fiscalizaciones: "
             "digitalización de documentos, firma electrónica avanzada, flujo de trabajo "
             "de contenidos, integración con DocDigital y la red de interoperabilidad del "
             "Estado, y conservación de archivos según la Ley de Transformación Digital."),
            ("Sistema de gestión documental y expediente electrónico institucional",
             "Plataforma de gestión documental y expediente electrónico para la "
             "tramitación de reclamos, denuncias y procesos de fiscalización: "
             "digitalización de documentos, firma electrónica avanzada, flujos de trabajo "
             "de contenidos, integración con DocDigital e interoperabilidad con otros "
             "servicios del Estado, conforme a la Ley de Transformación Digital."),
            ("Implementación de plataforma de expediente electrónico y gestión documental",
             "Implementación de plataforma de expediente electrónico y gestión documental "
             "para la tramitación digital de reclamos y fiscalizaciones: digitalización "
             "de documentos, firma electrónica avanzada, flujo de trabajo de contenidos, "
             "integración con DocDigital y la red de interoperabilidad del Estado, y "
             "archivo electrónico según la Ley de Transformación Digital."),
        )
        starts = (datetime.date(2025, 9, 1), datetime.date(2026, 1, 12),
                  datetime.date(2026, 3, 2))
        costs = (412000000, 538500000, 365000000)
        cluster = []
        for i, code in enumerate(DUP_AGENCIES):
            title, description = texts[i]
            p = self.project(code, 90 + i, title, description, "432322",
                             "in_progress" if i == 0 else "planned", starts[i],
                             starts[i] + datetime.timedelta(days=540), costs[i],
                             review_status="submitted" if i else "approved")
            p["capabilities"] = ["document_management", "e_signature"]
            p["shared_platforms"] = []
            cluster.append((code, p["id"]))
        self.planted["duplicates"] = [cluster]

    def overlap(self):
        """Four agencies buy security software licences, each in its own tender."""
        days = (datetime.date(2026, 3, 16), datetime.date(2026, 4, 27),
                datetime.date(2026, 5, 29), datetime.date(2026, 7, 8))
        amounts = (61850000, 48320000, 74900000, 39560000)
        pids = ("43233205", "43233205", "43233201", "43233205")
        ocids = []
        for i, code in enumerate(OVL_AGENCIES):
            title = ("Licencias de software de protección antivirus y seguridad de "
                     "estaciones de trabajo (EDR) por 36 meses"
                     if pids[i] == "43233205" else
                     "Licencias de software de servidor de autenticación y seguridad "
                     "de accesos")
            supplier = self.suppliers[(9, 16, 9, 0)[i]]
            ocid = self.release(code, days[i], pids[i], amounts[i], supplier, "open",
                                title, quantity=(1800, 950, 2400, 700)[i])
            ocids.append(ocid)
        self.planted["overlaps"] = [{"classification": OVL_CLASS,
                                     "agencies": list(OVL_AGENCIES), "ocids": ocids}]

    def split(self):
        """One buyer, one supplier, three direct awards under the threshold."""
        supplier = self.suppliers[2]  # Servicios Informáticos Altiplano SpA
        days = (datetime.date(2026, 6, 2), datetime.date(2026, 7, 1),
                datetime.date(2026, 8, 11))
        amounts = (16450000, 15820000, 14930000)
        ocids = [self.release(SPLIT_AGENCY, day, "81111812", amount, supplier, "direct",
                              "Servicio de mantención y soporte de equipos computacionales "
                              "(%s)" % part, quantity=1)
                 for day, amount, part in zip(days, amounts,
                                              ("Antofagasta", "Calama", "Tocopilla"))]
        self.planted["split"] = {"agency": SPLIT_AGENCY, "supplier": supplier[0],
                                 "supplier_name": supplier[1], "ocids": ocids,
                                 "total": _money(sum(amounts))}

    def late(self):
        """Over budget and late, its estimate drifting over three pushes."""
        start = datetime.date(2025, 3, 3)
        p = self.project(LATE_AGENCY, 70, "Migración del sistema de recaudación y pagos "
                         "del Estado a infraestructura en la nube",
                         "Migración de la plataforma de recaudación de impuestos y pagos "
                         "del Servicio de Tesorerías a servicios de nube pública: "
                         "rediseño de la arquitectura de sistemas, migración de bases de "
                         "datos y continuidad operacional del pago de obligaciones "
                         "fiscales.", "811117", "in_progress", start,
                         datetime.date(2026, 6, 30), 1450000000,
                         projected_cost="1520000000", projected_end="2026-07-31",
                         review_status="approved", cio_rating=2)
        v2 = dict(p, projected_cost="1785000000", projected_end="2026-12-31",
                  cio_rating=2)
        v3 = dict(p, projected_cost="2310000000", projected_end="2027-06-30",
                  cio_rating=1)
        self.waves[0].append(v2)
        self.waves[1].append(v3)
        self.planted["late"] = (LATE_AGENCY, p["id"])
        # And a rebaseline: FONASA re-plans its electronic medical leave system.
        q = self.project(REBASELINE_AGENCY, 71, "Nuevo sistema de licencias médicas "
                         "electrónicas", "Desarrollo del nuevo sistema de tramitación de "
                         "licencias médicas electrónicas con interoperabilidad con "
                         "prestadores, empleadores y la Superintendencia de Seguridad "
                         "Social.", "811117", "in_progress", datetime.date(2025, 5, 5),
                         datetime.date(2026, 4, 30), 980000000,
                         projected_cost="1150000000", projected_end="2026-09-30",
                         review_status="approved")
        self.waves[0].append(dict(q, planned_cost="1200000000", planned_end="2026-12-31",
                                  projected_cost="1230000000",
                                  projected_end="2026-12-31"))
        self.waves[1].append(dict(q, planned_cost="1200000000", planned_end="2026-12-31",
                                  projected_cost="1265000000",
                                  projected_end="2027-01-29"))
        self.planted["rebaselined"] = (REBASELINE_AGENCY, q["id"])

    # Budget ----------------------------------------------------------------------

    def budget(self, law_path):
        """The law's ICT lines of the story's agencies (CSV text, or None) and the JSON
        lines: approved ones when there is no law, and the monthly execution."""
        wanted = {tuple(code.split("-")) for code, _ in AGENCIES}
        law = []  # (code, program, item, amount in pesos)
        csv_lines = []
        if law_path and os.path.isfile(law_path):
            with open(law_path, encoding="utf-8-sig") as f:
                for line in f:
                    cells = line.rstrip("\r\n").split(";")
                    if len(cells) < 9 or (cells[0], cells[1]) not in wanted:
                        continue
                    if cells[3] != "29" or cells[4] not in ("06", "07") or cells[5]:
                        continue
                    csv_lines.append(line.rstrip("\r\n"))
                    law.append(("%s-%s" % (cells[0], cells[1]), cells[2],
                                int(cells[4]), int(cells[7].split(",")[0]) * 1000))
        lines = []
        if not law:
            for code, _ in AGENCIES:
                for item in (6, 7):
                    amount = self.rng.randrange(40000, 900000) * 1000
                    law.append((code, "01", item, amount))
                    lines.append({"agency": code, "fiscal_year": FISCAL_YEAR,
                                  "program": "01", "subtitulo": 29, "item": item,
                                  "denomination": ("Equipos Informáticos" if item == 6
                                                   else "Programas Informáticos"),
                                  "phase": "approved", "amount": _money(amount),
                                  "currency": "CLP"})
        for code, program, item, amount in law:
            if amount == 0:
                continue
            rate = 0.118 if code == OVERRUN_AGENCY else self.rng.uniform(0.045, 0.085)
            for month in range(1, 11):
                spent = int(amount * rate * self.rng.uniform(0.6, 1.4)) // 1000 * 1000
                lines.append({"agency": code, "fiscal_year": FISCAL_YEAR,
                              "program": program, "subtitulo": 29, "item": item,
                              "phase": "accrued", "period": month,
                              "amount": _money(spent), "currency": "CLP"})
        csv = None
        if csv_lines:
            csv = ("Partida;Capítulo;Programa;Subtítulo;Ítem;Asignación;Denominación;"
                   "Monto Pesos;Monto Dólar\n" + "\n".join(csv_lines) + "\n")
        return csv, lines


def _shared_dir():
    here = os.path.dirname(os.path.realpath(__file__))
    return os.environ.get("ICTMON_SHARED") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(here))), "shared")


def build(seed=7, scale=1.0, law_path=None):
    """The story without pushing it: {"projects": [[...], [...], [...]] (three pushes),
    "procurement": release package, "budget_csv": text or None, "budget": [lines],
    "planted": {...}}."""
    s = _Story(seed, scale)
    s.duplicates()
    s.overlap()
    s.split()
    s.late()
    s.background()
    s.cover_budget()
    if law_path is None:
        law_path = os.path.join(_shared_dir(), *LAW_PATH)
    csv, lines = s.budget(law_path)
    package = {
        "uri": "https://api.mercadopublico.cl/APISOCDS/ocds/listaAñoMes/2026/11",
        "publishedDate": "2026-11-27T08:00:00Z",
        "publisher": {"name": "Dirección ChileCompra",
                      "uri": "https://www.chilecompra.cl"},
        "version": "1.1",
        "releases": sorted(s.releases, key=lambda r: (r["date"], r["ocid"])),
    }
    s.planted["late"] = list(s.planted["late"])
    s.planted["rebaselined"] = list(s.planted["rebaselined"])
    return {"projects": [s.projects, s.waves[0], s.waves[1]], "procurement": package,
            "budget_csv": csv, "budget": lines, "planted": s.planted}


def _post(base_url, token, path, body, content_type="application/json", timeout=120):
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    request = urllib.request.Request(
        base_url.rstrip("/") + path, data=data, method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": content_type,
                 "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raise PushError("POST %s: %d %s" % (path, e.code,
                                             e.read().decode("utf-8", "replace")[:2000]))
    except (urllib.error.URLError, OSError) as e:
        raise PushError("POST %s: %s" % (path, e))


def _json(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def push(base_url, token, seed=7, scale=1.0, law_path=None):
    """Pushes the story over the API with an analyst (or admin) token and returns what
    was planted: {"duplicates": [[(agency, project id), ...]], "overlaps":
    [{"classification", "agencies", "ocids"}], "split": {"agency", "supplier",
    "supplier_name", "ocids", "total"}, "agencies": [codes], "late": [agency, id],
    "rebaselined": [agency, id]}."""
    story = build(seed, scale, law_path)
    for wave in story["projects"]:
        if wave:
            _post(base_url, token, "/v1/projects", _json({"projects": wave}))
    if story["budget_csv"]:
        _post(base_url, token, "/v1/budget?year=%d&phase=approved" % FISCAL_YEAR,
              story["budget_csv"], content_type="text/csv")
    _post(base_url, token, "/v1/budget", _json({"lines": story["budget"]}))
    _post(base_url, token, "/v1/procurement", _json(story["procurement"]))
    return story["planted"]


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 2 and sys.argv[1] == "--aliases":
        # One "AGENCY BUYER" line per OCDS buyer, for `ictmonctl agency alias`.
        for buyer, agency in buyer_aliases():
            print(agency, buyer)
    elif len(sys.argv) == 2 and sys.argv[1] == "--dump":
        print(_json(build()))
    elif len(sys.argv) in (3, 4):
        # story.py BASE_URL TOKEN [SCALE]: pushes, prints what was planted as JSON.
        try:
            print(_json(push(sys.argv[1], sys.argv[2],
                             scale=float(sys.argv[3]) if len(sys.argv) == 4 else 1.0)))
        except PushError as e:
            print("story: %s" % e, file=sys.stderr)
            sys.exit(1)
    else:
        print("usage: story.py BASE_URL TOKEN [SCALE] | --aliases | --dump",
              file=sys.stderr)
        sys.exit(2)
