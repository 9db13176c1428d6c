"""The plate designs the renderer draws: colours, headers, slogans and what sits between groups.

Colours are BGR. A design names the serial kinds (see `formats.SerialFormat.kind`) that are
printed on it; `None` means any kind its state issues.
"""

from __future__ import annotations

from dataclasses import dataclass

Colour = tuple[int, int, int]

WHITE: Colour = (245, 245, 242)
BLACK: Colour = (25, 25, 25)
NAVY: Colour = (100, 40, 25)
RED: Colour = (40, 30, 190)
DARK_RED: Colour = (40, 30, 140)
GREEN: Colour = (60, 110, 30)
YELLOW: Colour = (40, 205, 245)
GOLD: Colour = (60, 170, 225)
BLUE: Colour = (160, 70, 20)
GREY: Colour = (165, 165, 160)


@dataclass(frozen=True)
class Design:
    name: str
    state: str
    layout: str = "us"  # us | uk | eu | mercosul | br-grey
    kinds: tuple[str, ...] | None = None
    background: tuple[Colour, Colour] = (WHITE, WHITE)  # top and bottom of a gradient
    # (painter, colour) pairs drawn behind the text: mountains, sun, trees, desert, skyline,
    # band, wave.
    scenery: tuple[tuple[str, Colour], ...] = ()
    header: str = ""
    header_font: str = "caps"
    header_colour: Colour = NAVY
    footer: str = ""
    footer_colour: Colour = NAVY
    ink: Colour = NAVY
    font_role: str = "serial"
    # Between character groups: none | gap | dash | dot | logo | sticker.
    separators: tuple[str, ...] = ("gap",)
    logo: str = "silhouette"  # silhouette | heart | zia | tree | orange | star | seal
    logo_colour: Colour = RED
    side_letters: float = 0.0  # chance of stacked side letters (DLR, RTR, HC ...)
    weight: float = 1.0


DESIGNS: tuple[Design, ...] = (
    # California: the current white plate, the 1982-2011 white plate, the blue and black
    # plates still on the road, the sunset special plate, commercial.
    Design(
        "ca-current",
        "CA",
        kinds=("standard", "next", "vanity"),
        header="California",
        header_font="script",
        header_colour=RED,
        footer="DMV.CA.GOV",
        footer_colour=RED,
        separators=("none",),
        weight=5.0,
    ),
    Design(
        "ca-1982",
        "CA",
        kinds=("standard", "vanity"),
        header="California",
        header_font="script",
        header_colour=RED,
        separators=("none",),
        weight=3.0,
    ),
    Design(
        "ca-blue",
        "CA",
        kinds=("legacy", "standard"),
        background=((110, 50, 20), (95, 40, 15)),
        header="CALIFORNIA",
        header_colour=YELLOW,
        ink=YELLOW,
        separators=("none", "gap"),
        weight=0.6,
    ),
    Design(
        "ca-black",
        "CA",
        kinds=("legacy", "vanity"),
        background=(BLACK, BLACK),
        header="CALIFORNIA",
        header_colour=GOLD,
        ink=GOLD,
        separators=("gap",),
        weight=0.4,
    ),
    Design(
        "ca-sunset",
        "CA",
        kinds=("standard", "vanity"),
        background=((90, 170, 250), (230, 215, 200)),
        scenery=(("sun", (70, 140, 250)), ("mountains", (150, 120, 110))),
        header="California",
        header_font="script",
        header_colour=NAVY,
        footer="Lake Tahoe",
        separators=("none", "logo"),
        logo="heart",
        weight=0.5,
    ),
    Design(
        "ca-commercial",
        "CA",
        kinds=("commercial",),
        header="California",
        header_font="script",
        header_colour=RED,
        footer="COMMERCIAL",
        footer_colour=NAVY,
        separators=("none",),
        side_letters=0.2,
        weight=1.0,
    ),
    Design(
        "nv",
        "NV",
        background=((235, 225, 215), (200, 170, 140)),
        scenery=(("mountains", (170, 130, 90)), ("sun", (120, 200, 240))),
        header="NEVADA",
        header_colour=NAVY,
        footer="THE SILVER STATE",
        separators=("gap", "dash"),
    ),
    Design(
        "az",
        "AZ",
        background=((200, 225, 245), (170, 200, 235)),
        scenery=(("desert", (70, 90, 160)), ("sun", (90, 180, 250))),
        header="ARIZONA",
        header_colour=DARK_RED,
        footer="GRAND CANYON STATE",
        footer_colour=BLACK,
        ink=(60, 70, 40),
        separators=("dot",),
    ),
    Design(
        "or",
        "OR",
        background=((240, 230, 220), (235, 235, 230)),
        scenery=(("trees", (110, 150, 90)),),
        header="OREGON",
        header_colour=(140, 60, 40),
        separators=("logo", "gap"),
        logo="tree",
        logo_colour=(70, 110, 40),
        side_letters=0.2,
    ),
    Design(
        "wa",
        "WA",
        scenery=(("mountains", (225, 215, 205)),),
        header="Washington",
        header_font="script",
        header_colour=NAVY,
        separators=("gap", "none"),
    ),
    Design(
        "tx",
        "TX",
        background=(WHITE, (220, 220, 215)),
        header="TEXAS",
        header_colour=BLACK,
        footer="THE LONE STAR STATE",
        footer_colour=BLACK,
        ink=BLACK,
        separators=("dash", "logo"),
        logo="star",
        logo_colour=BLACK,
    ),
    Design(
        "fl",
        "FL",
        header="MYFLORIDA.COM",
        header_colour=GREEN,
        footer="Sunshine State",
        footer_colour=GREEN,
        ink=GREEN,
        separators=("logo",),
        logo="orange",
        logo_colour=(30, 140, 250),
    ),
    Design(
        "ny",
        "NY",
        background=((200, 120, 40), (90, 200, 240)),
        scenery=(("band", (95, 210, 245)), ("skyline", (140, 80, 40))),
        header="NEW YORK",
        header_colour=WHITE,
        footer="THE EMPIRE STATE",
        ink=NAVY,
        separators=("logo", "dash"),
        logo="silhouette",
        logo_colour=NAVY,
    ),
    Design(
        "ut",
        "UT",
        scenery=(("desert", (90, 120, 200)),),
        header="UTAH",
        header_colour=NAVY,
        footer="LIFE ELEVATED",
        ink=BLACK,
        separators=("gap",),
    ),
    Design(
        "id",
        "ID",
        background=((90, 60, 200), (230, 225, 225)),
        scenery=(("mountains", (200, 150, 120)),),
        header="Scenic IDAHO",
        header_font="script",
        header_colour=WHITE,
        footer="FAMOUS POTATOES",
        ink=NAVY,
        separators=("dot", "gap"),
        side_letters=0.35,
    ),
    Design(
        "co",
        "CO",
        background=(WHITE, (120, 160, 80)),
        scenery=(("mountains", (80, 120, 40)),),
        header="COLORADO",
        header_colour=GREEN,
        ink=(30, 60, 20),
        separators=("dash",),
    ),
    Design(
        "il",
        "IL",
        background=(WHITE, (235, 220, 200)),
        header="Illinois",
        header_font="script",
        header_colour=RED,
        footer="Land of Lincoln",
        footer_colour=NAVY,
        ink=DARK_RED,
        separators=("gap",),
    ),
    Design(
        "nm",
        "NM",
        background=(YELLOW, YELLOW),
        header="NEW MEXICO",
        header_colour=RED,
        footer="Land of Enchantment",
        footer_colour=RED,
        ink=RED,
        separators=("logo",),
        logo="zia",
        logo_colour=RED,
    ),
    Design(
        "md",
        "MD",
        header="Maryland",
        header_font="script",
        header_colour=BLACK,
        ink=BLACK,
        separators=("none", "gap"),
        side_letters=0.35,
    ),
    Design(
        "mn",
        "MN",
        background=(WHITE, (230, 200, 170)),
        scenery=(("wave", (200, 160, 110)),),
        header="Minnesota",
        header_colour=NAVY,
        footer="10,000 lakes",
        separators=("dash", "gap"),
        side_letters=0.35,
    ),
    Design(
        "nj",
        "NJ",
        background=((150, 225, 245), (90, 200, 240)),
        header="New Jersey",
        header_colour=BLACK,
        footer="Garden State",
        footer_colour=BLACK,
        ink=BLACK,
        separators=("logo",),
        logo="silhouette",
        logo_colour=BLACK,
    ),
    Design(
        "va",
        "VA",
        header="VIRGINIA",
        header_colour=NAVY,
        footer="Virginia is for Lovers",
        separators=("dash", "gap"),
    ),
    Design(
        "nc",
        "NC",
        background=(WHITE, (240, 225, 210)),
        header="First in Flight",
        header_font="script",
        header_colour=RED,
        footer="NORTH CAROLINA",
        footer_colour=RED,
        separators=("dash",),
        side_letters=0.3,
    ),
    # UK: white front, yellow rear; black characters; sometimes the UK identifier band.
    Design("uk-front", "UK", layout="uk", ink=BLACK, font_role="wide"),
    Design(
        "uk-rear",
        "UK",
        layout="uk",
        background=(YELLOW, YELLOW),
        ink=BLACK,
        font_role="wide",
        weight=1.2,
    ),
    # EU: white with the blue band; German plates carry two round seals between groups.
    Design("eu", "EU", layout="eu", ink=BLACK, font_role="wide", separators=("gap", "dash")),
    Design("eu-seal", "EU", layout="eu", kinds=("de",), ink=BLACK, separators=("sticker",)),
    # Brazil: Mercosul with the blue "BRASIL" band; the older grey plate.
    Design("br-mercosul", "BR", layout="mercosul", kinds=("mercosul",), ink=BLACK),
    Design(
        "br-grey",
        "BR",
        layout="br-grey",
        kinds=("grey",),
        background=(GREY, (150, 150, 148)),
        ink=BLACK,
        separators=("dash",),
    ),
)

SIDE_LETTERS = ("DLR", "RTR", "HC", "LR", "DV", "MC", "TR", "PH", "VET", "DST", "FIN", "CL")
SLOGAN_FRAMES = (
    "HONDA OF OAKLAND",
    "FREMONT TOYOTA",
    "SANTA ROSA FORD",
    "AUTONATION",
    "I'D RATHER BE SURFING",
    "GO BEARS",
    "CARMAX",
    "SUNSET NISSAN",
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
