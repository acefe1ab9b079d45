"""Generate examples/house-prices/data/houses.csv.

THE DATA IS SYNTHETIC. No real listings were used; nothing is downloaded.
It was generated once with this script (numpy default_rng, seed 20240601)
and the output CSV is committed next to it. Re-running the script
reproduces the file byte for byte:

    python3 examples/house-prices/data/make_data.py

Columns (one row per house, 500 rows):
    area_m2                 living area, 25 + 22 * bedrooms + N(0, 14), at least 20
    bedrooms                integer 1..5
    age_years               integer 0..80, roughly exponential (mean ~22)
    distance_to_center_km   0.3..25 km, lognormal (median ~5 km), depends on neighbourhood
    has_garden              0/1, more likely far from the centre
    neighbourhood           one of old_town, riverside, hillcrest, industrial
    price                   target, in thousands:

        price = 60
              + 2.4  * area_m2
              + 9    * bedrooms
              - 0.8  * age_years
              - 4.5  * distance_to_center_km
              + 20   * has_garden
              + {old_town: 55, riverside: 35, hillcrest: 20, industrial: -25}[neighbourhood]
              + N(0, 22)

        rounded to 0.1 and floored at 40.
"""
import csv
import os

import numpy as np

SEED = 20240601
ROWS = 500
NEIGHBOURHOODS = ["old_town", "riverside", "hillcrest", "industrial"]
NB_WEIGHTS = [0.2, 0.3, 0.3, 0.2]
NB_PREMIUM = {"old_town": 55.0, "riverside": 35.0, "hillcrest": 20.0, "industrial": -25.0}
NB_DISTANCE = {"old_town": 1.5, "riverside": 4.0, "hillcrest": 7.0, "industrial": 6.0}


def main():
    rng = np.random.default_rng(SEED)
    nb = rng.choice(NEIGHBOURHOODS, size=ROWS, p=NB_WEIGHTS)
    bedrooms = rng.integers(1, 6, size=ROWS)
    area = np.maximum(20.0, 25.0 + 22.0 * bedrooms + rng.normal(0.0, 14.0, size=ROWS))
    age = np.minimum(80, np.floor(rng.exponential(22.0, size=ROWS))).astype(int)
    median_km = np.array([NB_DISTANCE[n] for n in nb])
    distance = np.clip(median_km * rng.lognormal(0.0, 0.5, size=ROWS), 0.3, 25.0)
    garden_p = np.clip(0.15 + 0.05 * distance, 0.0, 0.9)
    garden = (rng.random(ROWS) < garden_p).astype(int)
    premium = np.array([NB_PREMIUM[n] for n in nb])
    price = (60.0 + 2.4 * area + 9.0 * bedrooms - 0.8 * age - 4.5 * distance
             + 20.0 * garden + premium + rng.normal(0.0, 22.0, size=ROWS))
    price = np.maximum(40.0, price)

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "houses.csv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["area_m2", "bedrooms", "age_years", "distance_to_center_km",
                    "has_garden", "neighbourhood", "price"])
        for i in range(ROWS):
            w.writerow([f"{area[i]:.1f}", int(bedrooms[i]), int(age[i]), f"{distance[i]:.2f}",
                        int(garden[i]), str(nb[i]), f"{price[i]:.1f}"])
    print(f"wrote {ROWS} rows to {out}")


if __name__ == "__main__":
    main()
