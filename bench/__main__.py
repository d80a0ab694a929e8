"""`make bench`: run every benchmark and print its figures."""

from bench import whatsapp_webhook

if __name__ == "__main__":
    whatsapp_webhook.main()
