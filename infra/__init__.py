"""Infrastructure: settings, the database and its unit of work, the broker, mail transport and
rendering, logging, rate limits. Imports the domain; never api, workers or the composition."""
