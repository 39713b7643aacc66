/* bus_broker */
