"""The privacy service: the DPO's ledger of data subjects, the retention job, erasure and restriction."""
