// Package seed loads a demo collection for local development: one collector
// with about forty real LEGO sets across real themes, most with photos.
package seed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/models"
)

// DemoEmail is the demo collector's email: `sets token --email` with it
// gives a token for the seeded collection.
const DemoEmail = "demo@example.com"

// namespace derives stable ids for seeded rows, so that seeding twice
// finds the rows of the first run instead of adding new ones.
var namespace = uuid.MustParse("6f1c3c1e-93b5-4a4e-9a7e-2f0c6f8d5a10")

// DemoUserID is the demo collector's id when seeding creates the user.
var DemoUserID = uuid.NewSHA1(namespace, []byte("user:"+DemoEmail))

type demoSet struct {
	number, title, theme string
	pieces               int32
	year                 int
	price                string // what was paid, "" when unknown
	store                string
	built                bool
	qty                  int32
	tags                 []string
	images               int
}

var demo = []demoSet{
	{"75192-1", "Millennium Falcon", "Star Wars", 7541, 2017, "799.99", "LEGO Store", true, 1, []string{"UCS", "display"}, 4},
	{"75313-1", "AT-AT", "Star Wars", 6785, 2021, "799.99", "LEGO Store", false, 1, []string{"UCS"}, 3},
	{"75331-1", "The Razor Crest", "Star Wars", 6187, 2022, "599.99", "Amazon", true, 1, []string{"UCS", "Mandalorian"}, 3},
	{"75257-1", "Millennium Falcon", "Star Wars", 1351, 2019, "159.99", "Target", true, 2, []string{"play"}, 2},
	{"75355-1", "X-Wing Starfighter", "Star Wars", 1953, 2023, "239.99", "LEGO Store", false, 1, []string{"UCS"}, 2},
	{"75367-1", "Venator-Class Republic Attack Cruiser", "Star Wars", 5374, 2023, "649.99", "LEGO Store", false, 1, []string{"UCS", "sealed"}, 1},
	{"42115-1", "Lamborghini Sián FKP 37", "Technic", 3696, 2020, "379.99", "Amazon", true, 1, []string{"supercar"}, 3},
	{"42143-1", "Ferrari Daytona SP3", "Technic", 3778, 2022, "399.99", "LEGO Store", true, 1, []string{"supercar"}, 2},
	{"42100-1", "Liebherr R 9800 Excavator", "Technic", 4108, 2019, "449.99", "eBay", false, 1, []string{"Control+", "motorized"}, 2},
	{"42083-1", "Bugatti Chiron", "Technic", 3599, 2018, "349.99", "LEGO Store", true, 1, []string{"supercar", "retired"}, 3},
	{"42156-1", "PEUGEOT 9X8 24H Le Mans Hybrid Hypercar", "Technic", 1775, 2023, "199.99", "Walmart", false, 1, nil, 1},
	{"10294-1", "Titanic", "Icons", 9090, 2021, "629.99", "LEGO Store", true, 1, []string{"display", "ship"}, 4},
	{"10497-1", "Galaxy Explorer", "Icons", 1254, 2022, "99.99", "LEGO Store", true, 1, []string{"classic space"}, 2},
	{"10300-1", "Back to the Future Time Machine", "Icons", 1872, 2022, "169.99", "Target", true, 1, []string{"movie"}, 2},
	{"10305-1", "Lion Knights' Castle", "Icons", 4514, 2022, "399.99", "LEGO Store", false, 1, []string{"castle", "minifigures"}, 3},
	{"10316-1", "The Lord of the Rings: Rivendell", "Icons", 6167, 2023, "499.99", "LEGO Store", true, 1, []string{"LOTR"}, 3},
	{"10281-1", "Bonsai Tree", "Botanical Collection", 878, 2021, "49.99", "Target", true, 3, []string{"gift", "plants"}, 1},
	{"10280-1", "Flower Bouquet", "Botanical Collection", 756, 2021, "49.99", "Target", true, 1, []string{"plants"}, 1},
	{"10311-1", "Orchid", "Botanical Collection", 608, 2022, "49.99", "Amazon", true, 1, []string{"plants"}, 0},
	{"21318-1", "Tree House", "Ideas", 3036, 2019, "199.99", "LEGO Store", true, 1, []string{"display"}, 2},
	{"21325-1", "Medieval Blacksmith", "Ideas", 2164, 2021, "149.99", "LEGO Store", true, 1, []string{"castle"}, 2},
	{"21327-1", "Typewriter", "Ideas", 2079, 2021, "199.99", "eBay", false, 1, []string{"retired"}, 1},
	{"21330-1", "Home Alone", "Ideas", 3955, 2021, "249.99", "LEGO Store", true, 1, []string{"movie", "minifigures"}, 2},
	{"31120-1", "Medieval Castle", "Creator 3in1", 1426, 2021, "99.99", "Walmart", true, 1, []string{"castle"}, 1},
	{"31109-1", "Pirate Ship", "Creator 3in1", 1264, 2020, "99.99", "Amazon", false, 1, []string{"pirates"}, 1},
	{"10270-1", "Bookshop", "Creator Expert", 2504, 2020, "179.99", "LEGO Store", true, 1, []string{"modular"}, 2},
	{"10278-1", "Police Station", "Creator Expert", 2923, 2021, "199.99", "LEGO Store", true, 1, []string{"modular"}, 2},
	{"10297-1", "Boutique Hotel", "Creator Expert", 3066, 2022, "199.99", "LEGO Store", false, 1, []string{"modular", "sealed"}, 0},
	{"60337-1", "Express Passenger Train", "City", 764, 2022, "159.99", "Target", true, 1, []string{"trains", "Powered Up"}, 2},
	{"60380-1", "Downtown", "City", 2010, 2023, "199.99", "Amazon", false, 1, nil, 1},
	{"60316-1", "Police Station", "City", 668, 2022, "99.99", "Walmart", true, 1, []string{"kids"}, 0},
	{"76178-1", "Daily Bugle", "Marvel Super Heroes", 3772, 2021, "349.99", "LEGO Store", true, 1, []string{"minifigures", "display"}, 3},
	{"76269-1", "Avengers Tower", "Marvel Super Heroes", 5201, 2023, "499.99", "LEGO Store", false, 1, []string{"minifigures"}, 2},
	{"76139-1", "1989 Batmobile", "DC Comics Super Heroes", 3306, 2019, "249.99", "eBay", true, 1, []string{"movie", "retired"}, 2},
	{"76405-1", "Hogwarts Express – Collectors' Edition", "Harry Potter", 5129, 2022, "499.99", "LEGO Store", false, 1, []string{"trains"}, 2},
	{"71043-1", "Hogwarts Castle", "Harry Potter", 6020, 2018, "399.99", "LEGO Store", true, 1, []string{"castle", "display"}, 3},
	{"71741-1", "NINJAGO City Gardens", "Ninjago", 5685, 2021, "299.99", "LEGO Store", true, 1, []string{"display"}, 2},
	{"43222-1", "Disney Castle", "Disney", 4837, 2023, "399.99", "LEGO Store", false, 1, []string{"castle"}, 1},
	{"40220-1", "London Bus", "", 118, 2016, "", "", true, 1, []string{"polybag"}, 0},
	{"6080-1", "King's Castle", "Castle", 679, 1984, "", "Garage sale", true, 1, []string{"vintage", "castle", "used"}, 2},
	{"6990-1", "Future Limited", "Space", 735, 1991, "65.00", "eBay", true, 1, []string{"vintage", "classic space"}, 1},
}

type demoWish struct {
	number, title, theme string
	priority             int32
	target               string // "" for no target price
	notes                string
	acquired             bool // fulfilled by the set of the same number above
}

// wishes is the demo collector's wishlist: what a collector of the sets
// above wants next, and one they already got (the Venator, linked to it).
var wishes = []demoWish{
	{"75375-1", "Millennium Falcon", "Star Wars", 2, "84.99", "the midi-scale one, for the desk", false},
	{"75367-1", "Venator-Class Republic Attack Cruiser", "Star Wars", 1, "599.99", "", true},
	{"10333-1", "The Lord of the Rings: Barad-dûr", "Icons", 1, "459.99", "goes next to Rivendell", false},
	{"10326-1", "Natural History Museum", "Icons", 2, "299.99", "modular", false},
	{"42171-1", "Mercedes-AMG F1 W14 E Performance", "Technic", 3, "", "", false},
	{"21348-1", "Dungeons & Dragons: Red Dragon's Tale", "Ideas", 2, "329.99", "wait for a sale", false},
	{"76417-1", "Gringotts Wizarding Bank – Collectors' Edition", "Harry Potter", 4, "399.99", "", false},
	{"10497-1", "Galaxy Explorer", "Icons", 5, "", "a second one to keep sealed", false},
	{"6285-1", "Black Seas Barracuda", "Pirates", 3, "250.00", "vintage, complete with box", false},
}

// Load inserts the demo collector and collection. Rows that already exist
// (by their derived ids) are left as they are, so running it twice changes
// nothing. It returns the number of sets it inserted.
func Load(ctx context.Context, db *bun.DB) (int, error) {
	email, name := DemoEmail, "Demo Collector"
	var inserted int
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		user := &models.User{ID: DemoUserID, Email: &email, DisplayName: &name}
		if _, err := tx.NewInsert().Model(user).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("insert demo user: %w", err)
		}
		// The demo email may already belong to a user created by
		// `sets token` before seeding: the collection goes to that user.
		var owner uuid.UUID
		if err := tx.NewSelect().Model((*models.User)(nil)).Column("id").
			Where("email = ?", email).Scan(ctx, &owner); err != nil {
			return fmt.Errorf("find demo user: %w", err)
		}
		// The wishlist goes first so that the acquired item's set can
		// point at it on insert, as acquireWishlistItem would have left it.
		items := demoWishlist(owner)
		if _, err := tx.NewInsert().Model(&items).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("insert demo wishlist: %w", err)
		}
		sets, images := demoRows(owner, items)
		res, err := tx.NewInsert().Model(&sets).On("CONFLICT (id) DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("insert demo sets: %w", err)
		}
		n, _ := res.RowsAffected()
		inserted = int(n)
		if _, err := tx.NewInsert().Model(&images).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("insert demo images: %w", err)
		}
		return nil
	})
	return inserted, err
}

// demoRows builds the demo sets and their images; a set whose number an
// acquired item of wishlist names is linked to that item.
func demoRows(owner uuid.UUID, wishlist []models.WishlistItem) ([]models.Set, []models.SetImage) {
	acquired := map[string]uuid.UUID{}
	for _, it := range wishlist {
		if it.AcquiredAt != nil {
			acquired[*it.SetNumber] = it.ID
		}
	}
	// Spread purchases and creation over two years, newest first in the
	// table above, so the gallery's default order looks like a real history.
	base := time.Date(2024, 11, 1, 12, 0, 0, 0, time.UTC)
	sets := make([]models.Set, 0, len(demo))
	var images []models.SetImage
	for i, d := range demo {
		id := uuid.NewSHA1(namespace, []byte("set:"+d.number))
		bought := base.AddDate(0, 0, -17*i)
		release := time.Date(d.year, time.January, 1, 0, 0, 0, 0, time.UTC)
		s := models.Set{
			ID: id, UserID: owner, Title: d.title,
			SetNumber: ptr(d.number), PieceCount: ptr(d.pieces), ReleaseDate: &release,
			Tags: append([]string{}, d.tags...), IsBuilt: d.built, Quantity: max(d.qty, 1),
			SourceURL: ptr("https://rebrickable.com/sets/" + d.number + "/"),
			CreatedAt: bought.Add(time.Hour), UpdatedAt: bought.Add(time.Hour),
		}
		if d.theme != "" {
			s.Theme = ptr(d.theme)
		}
		if item, ok := acquired[d.number]; ok {
			s.WishlistItemID = &item
		}
		if d.store != "" {
			s.Store = ptr(d.store)
		}
		if d.price != "" {
			price := decimal.RequireFromString(d.price).Mul(decimal.NewFromInt32(s.Quantity))
			tax := price.Mul(decimal.RequireFromString("0.08")).Round(2)
			s.PurchasePrice, s.Tax, s.PurchaseDate = &price, &tax, &bought
			if d.store == "eBay" || d.store == "Amazon" {
				s.Shipping = ptr(decimal.RequireFromString("9.95"))
			}
		}
		sets = append(sets, s)
		slug := strings.ToLower(strings.TrimSuffix(d.number, "-1"))
		for p := range d.images {
			url := fmt.Sprintf("https://images.example.com/sets/%s/%d.jpg", slug, p+1)
			images = append(images, models.SetImage{
				ID:           uuid.NewSHA1(namespace, []byte(url)),
				SetID:        id,
				ImageURL:     url,
				ThumbnailURL: ptr(strings.TrimSuffix(url, ".jpg") + "-thumb.jpg"),
				Position:     int32(p),
				CreatedAt:    s.CreatedAt,
			})
		}
	}
	return sets, images
}

// demoWishlist builds the demo wishlist, one item added every few weeks.
func demoWishlist(owner uuid.UUID) []models.WishlistItem {
	base := time.Date(2024, 10, 1, 9, 0, 0, 0, time.UTC)
	items := make([]models.WishlistItem, len(wishes))
	for i, w := range wishes {
		added := base.AddDate(0, 0, -23*i)
		it := models.WishlistItem{
			ID: uuid.NewSHA1(namespace, []byte("wish:"+w.number)), UserID: owner,
			SetNumber: ptr(w.number), Title: w.title, Theme: ptr(w.theme), Priority: w.priority,
			CreatedAt: added, UpdatedAt: added,
		}
		if w.target != "" {
			it.TargetPrice = ptr(decimal.RequireFromString(w.target))
		}
		if w.notes != "" {
			it.Notes = ptr(w.notes)
		}
		if w.acquired {
			it.AcquiredAt = ptr(added.AddDate(0, 1, 0))
		}
		items[i] = it
	}
	return items
}

func ptr[T any](v T) *T { return &v }
