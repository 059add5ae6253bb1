new Random().Next(0, (int)context.Variables["iSAPBearerTokenExpiry"] / 3) + 7 / 2 + 7.0 / 2
