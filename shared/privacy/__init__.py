"""Personal data: each applicant's data key (crypto-shredding), the fields that are personal, retention and rights."""
