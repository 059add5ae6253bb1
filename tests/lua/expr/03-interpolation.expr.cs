$"client_id=portico&code={(string)context.Variables["code"]}&expires={DateTime.UtcNow.AddSeconds(60):yyyy-MM-ddTHH:mm:ssZ}&secret={Uri.EscapeDataString("s 1")}"
