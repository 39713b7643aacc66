/* bus_client */
