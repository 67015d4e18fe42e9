from django import template
from django.utils.safestring import mark_safe

from custos.customers import panels

register = template.Library()


@register.simple_tag(takes_context=True)
def customer_panels(context, customer):
    """The other apps' panels (customers.panels), each already rendered by its own template."""
    return mark_safe("".join(panels.render_all(context["request"], customer)))  # noqa: S308 - our templates' output
