from django.core.management.base import BaseCommand

from imports.demo import demo_load


class Command(BaseCommand):
    help = "Load the demo project and accounts (idempotent) and print the logins."

    def handle(self, *args, **options):
        project, accounts = demo_load()
        self.stdout.write(
            f"Demo project: {project.name} ({project.tasks.count()} tasks), /projects/{project.pk}/"
        )
        self.stdout.write("Demo accounts (username / password / role):")
        for username, password, role in accounts:
            self.stdout.write(f"  {username:<9} {password:<16} {role}")
