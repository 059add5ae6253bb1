(string)((JObject)context.Variables["tokenResponse"])["id_token"]
