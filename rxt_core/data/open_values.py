"""Values for the closed slots drawn from an open vocabulary of real English words.

Why: a small pool (33-134 training colours, foods, drinks, jobs, languages, sports, cities,
plans) lets a model answer a slot from a list it knows; session 12 measured that it then does
not even repeat an unseen value stated in the same turn (0-46% against 75-87% for names, which
come from 14,000 values; docs/training.md). Made-up strings (`novel.py`) break the list but look
like nothing a real held-out food or colour looks like. A slot filled from some 900 real
words, alone or in pairs ("velvet lantern", "copper"), is meant to be answerable only by copying,
with values shaped like real ones (at stage 2 that alone did not teach the copy: docs/training.md,
session 13). Held-out values and words of the fixed texts (`reserved`) are never
drawn, so the held-out split stays unseen.
"""

from __future__ import annotations

import random

from .entities import EntityPools
from .facts import FACT_TYPES
from .novel import CAPITALISED_POOLS

OPEN_POOLS = frozenset(("city", "colour", "drink", "food", "job", "language", "plan", "sport"))
# The "closed" fact kinds (session 15's name): facts whose values come from these pools, so their
# held-out values are real words (hometown, through the city pool, among them).
CLOSED_FACTS = frozenset(fact.name for fact in FACT_TYPES if fact.pool in OPEN_POOLS)

_PLAN_VERBS = ("learn", "visit", "try", "build", "study", "make", "see", "paint", "start", "grow")

OPEN_WORDS = tuple(
    dict.fromkeys(
    """
    acorn adventure album alley amber anchor angle ankle antenna anvil apricot apron arch archer
    arrow atlas attic avenue awning axle badge bagel bakery balcony ballad ballet balloon bamboo
    bandana banjo banner barley barn barrel basket bassoon beacon bead beaker beam bean beard
    bedrock beech beetle bell bellows bench berry bicycle billboard binder birch biscuit blade
    blanket blossom boardwalk bonnet bookcase boulder bouquet bracelet bramble branch brass bread
    breeze brick bridge brook broom bucket buckle bugle bundle bunker burrow bushel butter button
    cabin cable cactus cake calendar camera campfire canal candle canoe canopy canvas canyon cape
    caravan cargo carnival carpet carriage cart cartoon castle cavern cedar cellar cello chalk
    chamber chapel charcoal chariot chart chestnut chimney chisel chorus cider cinder circus
    citadel clam clay cliff cloak clock clover coast cobble cocoa coconut comet compass concert
    cone copper coral cork corner cottage cotton couch county courtyard cove crane crater crayon
    creek crest cricket crown crystal cupboard curtain cushion cutlass dagger daisy dam dawn
    delta denim desert desk dew diamond diary dinghy dome doorway dove dragon drawer drum dune
    dusk eagle easel echo eclipse elbow ember emerald engine estuary fable falcon fan farm
    feather fence fern ferry fiddle field fig flag flame flannel flask fleece flint flute fog
    forest forge fork fortress fossil fountain fox frame frost funnel furnace galaxy gallery
    garden garland garnet gate gazebo gear gem geyser glacier glade glass glove goblet gondola
    gorge gourd granite grape gravel greenhouse grove guitar gulf gully hammer hammock harbor
    harp harvest hatchet hawk hay hazel hearth hedge helmet herb heron hill hinge hive hollow
    honey hood hook horizon horn hut iceberg inlet island ivory ivy jacket jade jar jasmine
    jetty jewel jigsaw journal jungle kayak kennel kernel kettle key kiln kite knapsack knot
    ladder lagoon lake lamp lantern larch lark lattice lava lawn leaf ledge lemon lens lever
    library lighthouse lily lime linen locket lodge loom lotus lute magnet mallet mandolin
    mango manor map marble marsh mask meadow medal melody mesa meteor mill mirror mist moat
    monument moon moss mountain mural mushroom musket nectar needle nest net nutmeg oak oar
    oasis oat obelisk ocean onyx opal orbit orchard orchid organ otter oven owl oyster paddle
    pagoda palace palm pantry paper parade parcel parchment pasture patio pavilion peach
    peak pearl pebble pelican pendant pepper perch pier pillar pillow pine pipe pistachio
    plank planet plateau plaza plow plum pocket pond poplar porch portrait pottery prairie
    prism pulley pumpkin puppet quarry quartz quill quilt radish raft rainbow rake ranch raven
    reef ribbon ridge river robin rocket rope rose rudder ruby saddle saffron sail sandal
    sapphire satchel scarf scroll seashell sequoia shadow shawl shed shelf shield shore shovel
    shutter sickle silk silver skiff sled sleeve slipper smoke snail snow spade sparrow spear
    spindle spire spoon spring spruce stable staircase starling statue steeple stone stool
    storm stream summit sundial swan sycamore tablet tambourine tapestry teapot telescope
    temple tent terrace thicket thimble thistle thorn thunder tide timber tinder torch tower
    trail tram trellis trolley trophy trumpet tulip tundra tunnel turnip turret twig umbrella
    valley vase vault velvet veranda village vine violin volcano wagon walnut wand wardrobe
    waterfall wave wheat wheel whistle willow windmill window wing wire wool workshop wreath
    yacht yarn zeppelin zither ash bronze cobalt crimson indigo lilac maroon ochre scarlet
    sepia slate tangerine teal umber vermilion amethyst azure beige bone buff burgundy charcoal
    chartreuse cinnamon citrine cream denim ebony fawn flax fuchsia ginger heather honeydew
    khaki lavender lemonade mahogany malachite mauve mint mulberry mustard olive orange peacock
    periwinkle pewter pistachio plaster rust sable sand seafoam sienna smoke steel straw tan
    taupe thistle topaz walnut wheat wine almond anise artichoke asparagus avocado barley basil
    beet brioche broccoli brownie buckwheat cabbage caramel cardamom carrot cashew cauliflower
    celery cheddar cherry chickpea chili chive chowder clove cobbler cornbread couscous cracker
    cranberry crepe crouton cucumber cumin currant custard date dill dumpling eggplant endive
    fennel feta fudge garlic gherkin gnocchi granola gravy guava hazelnut hummus jam kale kiwi
    leek lentil licorice lychee macaroon marmalade marzipan melon meringue millet molasses
    muffin noodle nougat okra olive omelette onion oregano pancake papaya paprika parsley
    parsnip pastry peanut pear pecan pesto pickle pie polenta pomegranate popcorn porridge
    potato praline pretzel prune pudding quince quinoa radicchio raisin raspberry rhubarb rice
    risotto rosemary rye sage salsa scone semolina sesame shallot sorbet sorrel soup spinach
    squash strudel sultana syrup taffy tamarind tapioca tarragon thyme toffee tofu tomato
    truffle vanilla waffle watercress yam yogurt zucchini ale broth chai cordial kefir lassi
    mead nectar punch sherbet soda tonic accountant acrobat actor architect astronomer auditor
    baker banker barber blacksmith botanist brewer builder butcher butler captain carpenter
    cartographer cashier chemist clerk clockmaker coach cobbler composer cook courier curator
    dancer dentist designer detective diver drummer economist editor electrician engineer
    engraver farmer ferryman firefighter fisher florist gardener geologist glassblower goldsmith
    guard guide harpist historian illustrator inventor janitor jeweler journalist judge juggler
    lawyer librarian lifeguard locksmith lumberjack magician manager mapmaker mason mechanic
    merchant midwife miller miner musician navigator novelist nurse optician painter
    pharmacist photographer physicist pilot planner plumber poet potter printer professor
    programmer puppeteer ranger receptionist referee reporter researcher roofer sailor
    saxophonist scientist sculptor secretary shepherd shipbuilder singer skipper surgeon
    surveyor tailor teacher translator tutor upholsterer veterinarian violinist waiter weaver
    welder writer zookeeper archery badminton ballooning billiards bobsled bowling boxing
    canoeing caving croquet curling cycling darts diving fencing fishing frisbee golf
    gymnastics handball hiking hockey hurling judo karate kayaking kickboxing lacrosse luge
    netball orienteering paddling parkour polo rafting rappelling rowing rugby sailing
    skating skiing sledding snooker softball squash surfing swimming tennis trampoline
    triathlon volleyball wakeboarding windsurfing wrestling yachting yoga
    """.split()
    )
)  # fmt: skip


def open_value(rng: random.Random, pool: str, pools: EntityPools) -> str:
    """One or two words of OPEN_WORDS for `pool` (plans: a verb and one or two of them), cased
    like the pool's values; never a reserved text (a held-out value, a word of the fixed texts)."""
    if pool not in OPEN_POOLS:
        raise ValueError(f"pool {pool!r} takes no open values (only {sorted(OPEN_POOLS)})")
    while True:
        parts = [rng.choice(OPEN_WORDS) for _ in range(1 if rng.random() < 0.6 else 2)]
        if any(part in pools.reserved for part in parts) or " ".join(parts) in pools.reserved:
            continue
        if pool == "plan":
            return f"{rng.choice(_PLAN_VERBS)} {' '.join(parts)}"
        if pool in CAPITALISED_POOLS:
            return " ".join(part.capitalize() for part in parts)
        return " ".join(parts)
