"""The directory: association networks and their thresholds, associations, partner banks and people's contacts."""
